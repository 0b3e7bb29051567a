"""The Slurm adapter against a real Slurm 22.05, and Slurm calling elastic as its
ResumeProgram/SuspendProgram for State=CLOUD nodes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from elastic.ledger import Ledger
from elastic.model import LrmNodeState
from elastic.vomatch import label_snapshot
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError
from lrm_adapters.slurm import SlurmAdapter
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[3]


def sbatch(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["sbatch", "--parsable", "--output=/dev/null", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip().split(";")[0]


def scancel(env: dict[str, str], *ids: str) -> None:
    subprocess.run(["scancel", *ids], env={**os.environ, **env}, capture_output=True, check=False)


def test_jobs_show_up_as_demand_and_held_jobs_do_not(slurm, slurm_env):
    before = time.time()
    big = sbatch(
        slurm_env,
        "-p",
        "cloud",
        "-A",
        "atlas",
        "-c",
        "2",
        "--mem=700",
        "--begin=now+1hour",
        "--wrap",
        "sleep 1",
    )
    array = sbatch(
        slurm_env,
        "-p",
        "cloud",
        "-A",
        "cms",
        "--array=1-30",
        "-n",
        "1",
        "--mem=100",
        "-H",
        "--wrap",
        "sleep 1",
    )
    pending = sbatch(
        slurm_env,
        "-p",
        "main",
        "-A",
        "cms",
        "-n",
        "1",
        "-c",
        "1",
        "--mem=200",
        "-w",
        "cloud4",
        "-H",
        "--wrap",
        "sleep 1",
    )
    try:
        subprocess.run(
            ["scontrol", "release", pending],
            env={**os.environ, **slurm_env},
            check=True,
            capture_output=True,
        )
        jobs = {j.id: j for j in label_snapshot(slurm.snapshot(), slurm.vos).jobs}
        assert (jobs[big].vo, jobs[big].cores, jobs[big].memory_mb) == ("atlas", 2, 700)
        assert jobs[big].runnable is False and jobs[big].reason == "BeginTime"
        assert (jobs[array].vo, jobs[array].count, jobs[array].runnable) == ("cms", 30, False)
        assert jobs[pending].vo == "cms" and jobs[pending].memory_mb == 200
        submitted = jobs[pending].submit_time  # read by cloud_burst_after_s
        assert submitted is not None and before - 1 <= submitted <= time.time() + 1
    finally:
        scancel(slurm_env, big, array, pending)


def test_dynamic_register_drain_remove_are_real_and_idempotent(slurm, slurm_env):
    name = "t-atlas-00042"
    show = ["scontrol", "--future", "show", "node", name]
    try:
        for _ in range(2):
            slurm.register_node(name, "atlas")
        text = slurm.runner.run(show)
        assert "AvailableFeatures=atlas" in text and "CPUTot=2" in text
        assert "Weight=1 " in text  # a local worker: Slurm's first choice
        for _ in range(2):
            slurm.drain_node(name, "idle 600 s >= 600 s")
        assert "DRAIN" in slurm.runner.run(show)
    finally:
        for _ in range(2):
            slurm.remove_node(name)
    with pytest.raises(LRMError, match="not found"):
        slurm.runner.run(show)


def test_a_cloud_worker_weighs_more_than_a_local_one(slurm):
    name = "t-atlas-00043"
    try:
        slurm.register_node(name, "atlas", cloud=True)
        text = slurm.runner.run(["scontrol", "--future", "show", "node", name])
        assert "Weight=100 " in text
    finally:
        slurm.remove_node(name)


def test_unreachable_slurmctld_is_an_lrm_error_within_the_timeout(tmp_path, slurm_env):
    conf = (
        Path(slurm_env["SLURM_CONF"]).read_text().replace("SlurmctldPort=6817", "SlurmctldPort=1")
    )
    (tmp_path / "slurm.conf").write_text(conf)
    dead = SlurmAdapter(CommandRunner(8, {"SLURM_CONF": str(tmp_path / "slurm.conf")}), [])
    started = time.monotonic()
    with pytest.raises(LRMError) as caught:
        dead.snapshot()
    assert time.monotonic() - started < 12
    assert caught.value.command[0] == "squeue"
    assert caught.value.exit_code is None or caught.value.stderr


@pytest.mark.slow
def test_slurm_power_saving_calls_elastic_to_resume_and_suspend(tmp_path, slurm, slurm_env):
    site_file = tmp_path / "site.yaml"
    site_file.write_text(
        yaml.safe_dump(
            {
                "site": {"name": "ps", "state": str(tmp_path / "ledger.db")},
                "lrm": {
                    "kind": "slurm",
                    "options": {"slurm_conf": slurm_env["SLURM_CONF"], "join": "power_save"},
                },
                "vos": [
                    {
                        "name": "atlas",
                        "match": {"account": ["atlas"]},
                        "flavor": {"cores": 2, "memory_mb": 1000},
                        "image": {"libvirt": "x"},
                    }
                ],
                "local": {
                    "hosts": [
                        {
                            "name": "standin",
                            "uri": "test:///default",
                            "cores": 64,
                            "memory_mb": 64000,
                        }
                    ]
                },
            }
        )
    )
    env = {**os.environ, **slurm_env}
    down = subprocess.run(
        ["sinfo", "-h", "-N", "-p", "cloud", "-t", "down", "-o", "%N"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in down:  # left down by an earlier run whose resume failed
        subprocess.run(
            ["scontrol", "update", f"nodename={name}", "state=resume"], env=env, check=False
        )
    command = Path(slurm_env["SLURM_POWER_CMD_FILE"])
    command.write_text(
        f"/usr/bin/env PYTHONPATH={REPO} {sys.executable} -m "
        f"tests.integration.slurm.standin --config {site_file}\n"
    )
    ledger = Ledger.open(tmp_path / "ledger.db")
    job = sbatch(
        slurm_env, "-p", "cloud", "-A", "atlas", "-C", "atlas", "-n", "1", "--wrap", "sleep 3"
    )
    try:
        wait_for(lambda: bool(ledger.nodes(include_gone=True)), 60, "Slurm to call resume")
        (node,) = ledger.nodes(include_gone=True)
        assert node.vo == "atlas" and node.id.startswith("cloud")

        def job_done() -> bool:
            out = subprocess.run(
                ["scontrol", "show", "job", job],
                env={**os.environ, **slurm_env},
                capture_output=True,
                text=True,
                check=False,
            ).stdout
            return "JobState=COMPLETED" in out

        wait_for(job_done, 90, "the job to run on the resumed node")
        wait_for(lambda: ledger.get(node.id).state.value == "gone", 90, "Slurm to suspend")
        events = [e.kind for e in ledger.events(node_id=node.id)]
        assert events[0] == "node" and "gone" in events
        alive = subprocess.run(["pgrep", "-f", f"slurmd -b -N {node.id}$"], check=False)
        assert alive.returncode == 1, "the node's slurmd survived the suspend"
        states = {n.name: n.state for n in slurm.snapshot().nodes}
        wait_for(
            lambda: (
                {n.name: n.state for n in slurm.snapshot().nodes}[node.id]
                in {LrmNodeState.ABSENT, LrmNodeState.DOWN}
            ),
            30,
            "the node to power down",
        )
        assert node.id in states
    finally:
        command.write_text("")
        scancel(slurm_env, job)
