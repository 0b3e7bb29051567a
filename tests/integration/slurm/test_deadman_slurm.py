"""The dead-man switch's Slurm commands, as rendered for a cloud worker, against the real
Slurm (scripts/services/slurm-up): a rebalance recommendation drains the node with the
agent's reason (scontrol update state=drain), and a running job step is seen by the busy
check. Issue 10."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.agent.rendered import rendered_node
from tests.agent.standin import HEARTBEAT, REBALANCE, Node, imds_standin
from tests.integration.conftest import wait_for
from tests.integration.slurm.test_slurm_real import sbatch, scancel

pytestmark = pytest.mark.slurm
NAME = "t-atlas-00093"


def slurm_node(tmp_path: Path, url: str, slurm_env: dict[str, str], host: str, real: str) -> Node:
    env = {"SLURM_CONF": slurm_env["SLURM_CONF"]}  # a real worker finds slurmd's cached conf
    return rendered_node("slurm", host, tmp_path, url, env, real)[0]


def test_a_rebalance_recommendation_drains_the_node_in_real_slurm(slurm, slurm_env, tmp_path):
    show = ["scontrol", "--future", "show", "node", NAME]
    try:
        slurm.register_node(NAME, "atlas", cloud=True)
        assert "DRAIN" not in slurm.runner.run(show)
        with imds_standin() as imds:
            imds.values[HEARTBEAT] = str(int(time.time()))
            imds.values[REBALANCE] = '{"noticeTime": "2025-01-01T00:00:00Z"}'
            worker = slurm_node(tmp_path, imds.url, slurm_env, NAME, "drain")
            worker.set_state(first_seen=120, last_busy=120)
            done = worker.run()
            assert done.returncode == 0, done.stderr
            text = slurm.runner.run(show)
            assert "DRAIN" in text
            assert "Reason=elastic-deadman: rebalance recommendation" in text
            slurm.runner.run(["scontrol", "update", f"nodename={NAME}", "state=resume"])
            assert worker.run().returncode == 0  # once: an admin's resume is respected
            assert "DRAIN" not in slurm.runner.run(show)
        assert worker.calls("poweroff") == []
    finally:
        slurm.remove_node(NAME)


def test_a_job_running_in_real_slurm_keeps_its_node(slurm, slurm_env, tmp_path):
    """The rendered busy check (one slurmstepd per job step) sees a real job."""
    host = slurm_env["SLURM_HOST"]
    job = sbatch(slurm_env, "-p", "main", "-w", host, "-n", "1", "--wrap", "sleep 60")
    env = {**os.environ, **slurm_env}

    def running() -> bool:
        state = subprocess.run(
            ["squeue", "-h", "-j", job, "-o", "%T"], env=env, capture_output=True, text=True
        )
        return state.stdout.strip() == "RUNNING"

    try:
        wait_for(running, 60, "the job to run on the real slurmd")
        with imds_standin() as imds:
            imds.values[HEARTBEAT] = str(int(time.time() - 5000))
            worker = slurm_node(tmp_path, imds.url, slurm_env, host, "busy")
            worker.set_state(first_seen=8000, last_busy=4000)
            before = time.time()
            done = worker.run()
        assert done.returncode == 0, done.stderr
        assert worker.calls("poweroff") == [] and worker.calls("drain") == []
        assert worker.state()["last_busy"] >= before
    finally:
        scancel(slurm_env, job)
