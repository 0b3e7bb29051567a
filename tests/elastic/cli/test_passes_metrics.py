"""``elastic daemon`` serves /metrics on ``metrics.listen``; ``elastic run-once`` writes the
same to ``metrics.textfile``, its counters adding up run after run."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.elastic.cli.conftest import REPO, elastic

SITE = """\
site: {{name: metrics, state: ./var/elastic.db}}
lrm: {{kind: replay, workload: jobs.yaml}}
vos:
  - name: atlas
    match: {{project: [atlas]}}
    flavor: {{cores: 4, memory_mb: 8192}}
    image: {{libvirt: atlas-base.qcow2}}
    context: {{template: sge, vars: {{qmaster: qmaster.example}}}}
local:
  hosts:
    - {{name: hv1, uri: "test://{repo}/hosts/testhost-hv1.xml", cores: 16,
       memory_mb: 65536, reserved_cores: 4, reserved_memory_mb: 8192}}
metrics: {metrics}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_site(tmp_path: Path, metrics: str) -> Path:
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n  - {id: a, project: atlas, cores: 4, count: 2, runtime_s: 600}\n"
    )
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(repo=REPO, metrics=metrics))
    return path


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as answer:
        return answer.read().decode()


@pytest.mark.libvirt
def test_the_daemon_serves_its_passes_on_metrics_listen(tmp_path: Path):
    port = free_port()
    site = write_site(tmp_path, f'{{listen: "127.0.0.1:{port}"}}')
    daemon = subprocess.Popen(
        [sys.executable, "-m", "elastic.cli", "-c", str(site), "daemon", "--interval", "0.5"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                seen = samples(scrape(port))
            except OSError:
                seen = {}
            if seen.get(("elastic_passes_total", (("result", "ok"),)), 0) >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"no two ok passes on :{port}/metrics; last scrape: {seen}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    assert daemon.returncode == 0, err
    atlas = (("provider", "libvirt"), ("state", "ready"), ("vo", "atlas"))
    assert seen[("elastic_nodes", atlas)] == 2  # the first pass booted 2, the second saw them join
    assert seen[("elastic_boots_total", (("provider", "libvirt"), ("vo", "atlas")))] == 2
    assert seen[("elastic_pass_duration_seconds_count", ())] >= 2
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err


def test_a_taken_port_costs_the_metrics_not_the_passes(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        site = write_site(tmp_path, f'{{listen: "127.0.0.1:{port}"}}')
        done = elastic(
            "-c", str(site), "daemon", "--interval", "0.2", "--passes", "2", cwd=tmp_path
        )
    assert done.returncode == 0, done.stderr
    assert f"metrics.listen 127.0.0.1:{port}" in done.stderr and "no metrics served" in done.stderr
    assert "daemon stopped after 2 pass(es)" in done.stderr


@pytest.mark.libvirt
def test_run_once_writes_the_textfile_and_each_run_adds_to_its_counters(tmp_path: Path):
    site = write_site(tmp_path, "{listen: null, textfile: prom/elastic.prom}")
    for _ in range(2):
        done = elastic("-c", str(site), "run-once", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    path = tmp_path / "prom" / "elastic.prom"  # relative to the site file's folder
    seen = samples(path.read_text())
    assert seen[("elastic_passes_total", (("result", "ok"),))] == 2
    assert seen[("elastic_boots_total", (("provider", "libvirt"), ("vo", "atlas")))] == 2
    # the second run's reading of the 2 nodes the first booted: failed, as libvirt's test
    # driver keeps its VMs in the memory of one process and this one found them vanished
    failed = (("provider", "libvirt"), ("state", "failed"), ("vo", "atlas"))
    assert seen[("elastic_nodes", failed)] == 2
    assert seen[("elastic_pass_duration_seconds_count", ())] == 2
