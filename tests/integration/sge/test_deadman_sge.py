"""The dead-man switch's SGE commands, as rendered for a cloud worker, against the real
Son of Grid Engine (scripts/services/sge-up): a spot notice disables the host's queue
instances (qmod -d), and a running job is seen by the busy check. Issue 10."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.agent.rendered import rendered_node
from tests.agent.standin import HEARTBEAT, SPOT, Node, imds_standin
from tests.integration.conftest import wait_for
from tests.integration.e2e import workers

pytestmark = pytest.mark.sge
HOST = "dm-atlas-00001"
INDEX = 60  # its address (workers.address), apart from e2e's, faults' and crash's workers


def queue_state(sge, host: str) -> str:
    """The state column of all.q@host in ``qstat -f`` ("" when it has none)."""
    lines = sge.runner.run(["qstat", "-f", "-q", f"all.q@{host}"]).splitlines()
    (line,) = [x for x in lines if x.startswith(f"all.q@{host}")]
    words = line.split()
    return words[5] if len(words) > 5 else ""


def sge_node(tmp_path: Path, url: str, sge_env: dict[str, str], host: str, real: str) -> Node:
    env = {k: v for k, v in sge_env.items() if k in {"SGE_ROOT", "SGE_CELL"}}
    worker, rendered = rendered_node("sge", host, tmp_path, url, env, real)
    assert set(rendered["env"]) == set(env)  # the rendered env names what qmod needs
    return worker


def test_a_spot_notice_disables_the_hosts_queues_in_real_sge(sge, sge_env, tmp_path):
    workers.make_resolvable([HOST], first=INDEX)  # qconf -ah refuses names that do not resolve
    try:
        sge.register_node(HOST, "atlas", cloud=True)
        assert "d" not in queue_state(sge, HOST)
        with imds_standin() as imds:
            imds.values[HEARTBEAT] = str(int(time.time()))
            imds.values[SPOT] = '{"action": "terminate", "time": "2025-01-01T00:02:00Z"}'
            worker = sge_node(tmp_path, imds.url, sge_env, HOST, "drain")
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
    with imds_standin() as imds:
        imds.values[HEARTBEAT] = str(int(time.time() - 5000))
        worker = sge_node(tmp_path, imds.url, sge_env, host, "busy")
        worker.set_state(first_seen=8000, last_busy=4000)
        before = time.time()
        done = worker.run()
    assert done.returncode == 0, done.stderr
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert worker.state()["last_busy"] >= before
