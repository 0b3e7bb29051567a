"""The dead-man switch's SGE commands, as rendered for a cloud worker, against the real
Son of Grid Engine (scripts/services/sge-up): a spot notice disables the host's queue
instances (qmod -d), and a running job is seen by the busy check. Issue 10."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agent.rendered import rendered_agent_config
from tests.agent.standin import HEARTBEAT, SPOT, Node, imds_standin
from tests.integration.conftest import require, wait_for

pytestmark = pytest.mark.sge
HOST = "dm-atlas-00001"
ADDRESS = "127.0.1.41"
HOSTS = Path("/etc/hosts")


def make_resolvable(name: str, address: str) -> None:
    """qconf -ah refuses a name that does not resolve (sge-up does the same for its own)."""
    text = HOSTS.read_text()
    if any(line.split()[1:] == [name] for line in text.splitlines() if line.strip()):
        return
    try:
        with HOSTS.open("a") as hosts:
            hosts.write(("" if text.endswith("\n") else "\n") + f"{address} {name}\n")
    except OSError as exc:
        require(False, f"cannot make {name} resolvable in {HOSTS}: {exc}")


def queue_state(sge, host: str) -> str:
    """The state column of all.q@host in ``qstat -f`` ("" when it has none)."""
    lines = sge.runner.run(["qstat", "-f", "-q", f"all.q@{host}"]).splitlines()
    (line,) = [x for x in lines if x.startswith(f"all.q@{host}")]
    words = line.split()
    return words[5] if len(words) > 5 else ""


def sge_node(tmp_path: Path, url: str, sge_env: dict[str, str], host: str, **config) -> Node:
    rendered = rendered_agent_config("sge", host, tmp_path)
    env = {k: v for k, v in sge_env.items() if k in {"SGE_ROOT", "SGE_CELL"}}
    assert set(rendered["env"]) == set(env)  # the rendered env names what qmod needs
    worker = Node(tmp_path, url, drain_command=rendered["drain_command"], env=env)
    worker.config.update(config)
    return worker


def test_a_spot_notice_disables_the_hosts_queues_in_real_sge(sge, sge_env, tmp_path):
    make_resolvable(HOST, ADDRESS)
    try:
        sge.register_node(HOST, "atlas", cloud=True)
        assert "d" not in queue_state(sge, HOST)
        with imds_standin() as imds:
            imds.values[HEARTBEAT] = str(int(time.time()))
            imds.values[SPOT] = '{"action": "terminate", "time": "2025-01-01T00:02:00Z"}'
            worker = sge_node(tmp_path, imds.url, sge_env, HOST)
            worker.set_state(first_seen=120, last_busy=120)
            done = worker.run()
            assert done.returncode == 0, done.stderr
            assert "d" in queue_state(sge, HOST)
            assert worker.state()["drained"]["reason"].startswith("spot interruption")
            sge.runner.run(["qmod", "-e", f"*@{HOST}"])  # an admin re-enables it:
            assert worker.run().returncode == 0  # the same notice does not drain again
            assert "d" not in queue_state(sge, HOST)
        assert worker.calls("poweroff") == []
    finally:
        sge.remove_node(HOST)


def test_a_job_running_in_real_sge_keeps_its_node(sge, sge_env, drmaa, tmp_path):
    """The rendered busy check (one sge_shepherd per job) sees a real job: an idle-looking
    node with a stale heartbeat stays up while it runs."""
    host = sge_env["SGE_HOST"]
    (job,) = drmaa.submit("/bin/sleep", "60", native=f"-P atlas -l h={host}")
    wait_for(lambda: any(j.id == job and j.running for j in sge.snapshot().jobs), 120, "job")
    rendered = rendered_agent_config("sge", host, tmp_path)
    with imds_standin() as imds:
        imds.values[HEARTBEAT] = str(int(time.time() - 5000))
        worker = sge_node(
            tmp_path,
            imds.url,
            sge_env,
            host,
            busy_command=rendered["busy_command"],
            busy_if=rendered["busy_if"],
            drain_command=worker_recorder(tmp_path, imds.url),
        )
        worker.set_state(first_seen=8000, last_busy=4000)
        before = time.time()
        done = worker.run()
    assert done.returncode == 0, done.stderr
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert worker.state()["last_busy"] >= before


def worker_recorder(tmp_path: Path, url: str) -> list[str]:
    """A recorder in place of the drain: this host is the test site's own execd."""
    return Node(tmp_path, url).recorder("drain", "0")
