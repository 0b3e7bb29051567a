"""A real Prometheus (scripts/services/prometheus-up) scrapes a real ``elastic daemon`` and
answers for its metrics over its HTTP API.

The daemon runs the replay LRM on a libvirt test-driver host (no shared SGE or Slurm, no
cloud), with ``metrics.listen`` on a free loopback port; the test drops a file_sd target
for it, labelled with a run id of its own so that no other scrape can answer for it, and
removes it at the end.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import _free_port, require, service_env

REPO = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.prometheus, pytest.mark.libvirt, pytest.mark.slow]

SITE = """\
site: {{name: scraped, state: ./var/elastic.db}}
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
metrics: {{listen: "127.0.0.1:{port}"}}
"""


@pytest.fixture(scope="module")
def prometheus() -> dict[str, str]:
    env = service_env("prometheus")
    try:
        urllib.request.urlopen(f"{env['PROMETHEUS_URL']}/-/ready", timeout=5)
    except OSError as exc:
        require(False, f"Prometheus does not answer at {env['PROMETHEUS_URL']}: {exc}")
    return env


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[int]:
    """A running ``elastic daemon`` (a pass a second); yields its metrics port."""
    port = _free_port()
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n  - {id: a, project: atlas, cores: 4, count: 2, runtime_s: 3600}\n"
    )
    site = tmp_path / "site.yaml"
    site.write_text(SITE.format(repo=REPO, port=port))
    process = subprocess.Popen(
        [sys.executable, "-m", "elastic.cli", "-c", str(site), "daemon", "--interval", "1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err


@pytest.fixture
def target(prometheus: dict[str, str], daemon: int) -> Iterator[str]:
    """A file_sd target for the daemon, labelled ``run=<id>``; yields the id."""
    run = uuid.uuid4().hex[:12]
    folder = Path(prometheus["PROMETHEUS_TARGETS_DIR"])
    path = folder / f"elastic-{run}.json"
    partial = folder / f".elastic-{run}.json.tmp"  # not matched by *.json: never read half
    partial.write_text(json.dumps([{"targets": [f"127.0.0.1:{daemon}"], "labels": {"run": run}}]))
    partial.rename(path)
    try:
        yield run
    finally:
        path.unlink(missing_ok=True)


def query(prometheus: dict[str, str], expression: str) -> list[dict[str, Any]]:
    url = f"{prometheus['PROMETHEUS_URL']}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression}
    )
    with urllib.request.urlopen(url, timeout=5) as answer:
        body = json.load(answer)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def value_of(prometheus: dict[str, str], expression: str) -> float | None:
    result = query(prometheus, expression)
    return float(result[0]["value"][1]) if len(result) == 1 else None


def test_prometheus_scrapes_the_daemon_and_answers_for_its_nodes_and_pass_duration(
    prometheus: dict[str, str], target: str
):
    ready = f'elastic_nodes{{run="{target}",vo="atlas",provider="libvirt",state="ready"}}'
    passes = f'elastic_pass_duration_seconds_count{{run="{target}"}}'
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        # both boots done and joined, seen by a scrape after at least three passes
        if value_of(prometheus, ready) == 2 and (value_of(prometheus, passes) or 0) >= 3:
            break
        time.sleep(1)
    else:
        up = query(prometheus, f'up{{run="{target}"}}')
        pytest.fail(f"Prometheus never saw 2 ready nodes after 3 passes; up: {up}")

    assert value_of(prometheus, f'up{{run="{target}"}}') == 1
    nodes = query(prometheus, f'elastic_nodes{{run="{target}"}} > 0')
    assert [(n["metric"]["vo"], n["metric"]["state"], n["value"][1]) for n in nodes] == [
        ("atlas", "ready", "2")
    ]
    labels = nodes[0]["metric"]
    assert labels["job"] == "elastic-test" and labels["provider"] == "libvirt"
    boots = f'elastic_boots_total{{run="{target}",vo="atlas",provider="libvirt"}}'
    assert value_of(prometheus, boots) == 2
    # the histogram arrived whole: buckets, sum and count, each pass under its 300 s bound
    total = value_of(prometheus, f'elastic_pass_duration_seconds_sum{{run="{target}"}}')
    assert total is not None and total > 0
    buckets = query(prometheus, f'elastic_pass_duration_seconds_bucket{{run="{target}"}}')
    assert {b["metric"]["le"] for b in buckets} >= {"0.1", "1.0", "300.0", "+Inf"}
    inf = value_of(prometheus, f'elastic_pass_duration_seconds_bucket{{run="{target}",le="+Inf"}}')
    assert inf == value_of(prometheus, passes)
    p90 = value_of(
        prometheus,
        f'histogram_quantile(0.9, elastic_pass_duration_seconds_bucket{{run="{target}"}})',
    )
    assert p90 is not None and 0 < p90 <= 300
    ok = value_of(prometheus, f'elastic_passes_total{{run="{target}",result="ok"}}')
    assert ok is not None and ok >= 3
