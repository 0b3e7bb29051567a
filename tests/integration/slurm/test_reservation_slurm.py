"""A real Slurm reservation of State=CLOUD nodes, prepared by elastic (issue 14).

Slurm fixes a reservation's nodes when it is made but powers CLOUD nodes up only when
the reservation's jobs are allocated: the jobs then wait out the boot. Here the passes
(``elastic run-once``, as cron runs it, over the stand-in provider) read the reservation
from ``scontrol show reservation``, map it to VO atlas by its account, and from its start
minus the lead ask Slurm to power its nodes up; Slurm calls elastic's ResumeProgram,
which boots them. The nodes are up before the start, a job submitted into the
reservation starts at the start, and the ledger records the reservation ready on time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from elastic.ledger import Ledger
from elastic.model import ReservationState
from lrm_adapters.base import LRMError
from tests.integration.conftest import wait_for
from tests.integration.slurm.test_power_limits import (
    ATLAS_NODES,
    resume_down_nodes,
    scontrol,
    write_site,
)
from tests.integration.slurm.test_slurm_real import REPO, sbatch, scancel

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
NAME = "elastic-rsv-test"
LEAD_S = 10 + 0 + 5  # boot estimate + registration + margin, below the test Slurm's SuspendTime
AHEAD_S = 50  # the reservation starts this long after it is made


def slurm_time(text: str) -> float:
    """A Slurm time stamp (the controller's local time) as epoch seconds."""
    return datetime.fromisoformat(text).timestamp()


def field(shown: str, key: str) -> str:
    return next(w.split("=", 1)[1] for w in shown.split() if w.startswith(f"{key}="))


def squeue(env: dict[str, str]) -> str:
    return subprocess.run(
        ["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True, check=False
    ).stdout


def all_up(env: dict[str, str]) -> bool:
    states = [field(scontrol(env, "-o", "show", "node", n), "State") for n in ATLAS_NODES]
    return all(s.startswith("IDLE") and "POWER" not in s for s in states)


def test_a_slurm_reservations_cloud_nodes_are_up_before_its_start(tmp_path, slurm_env):
    env = {**os.environ, **slurm_env}
    site_file = tmp_path / "site.yaml"
    reservations = {"boot_estimate_s": {"libvirt": 10}, "register_s": 0, "margin_s": 5}
    write_site(site_file, slurm_env["SLURM_CONF"], max_nodes=2, reservations=reservations)
    resume_down_nodes(env)
    command = Path(slurm_env["SLURM_POWER_CMD_FILE"])
    standin = (
        f"/usr/bin/env PYTHONPATH={REPO} {sys.executable} -m "
        f"tests.integration.slurm.standin --config {site_file}"
    )
    command.write_text(standin + "\n")
    made = subprocess.run(
        [
            "scontrol",
            "create",
            "reservation",
            f"reservationname={NAME}",
            f"starttime=now+{AHEAD_S}",
            "duration=5",
            f"nodes={','.join(ATLAS_NODES)}",
            "users=root",
            "accounts=atlas",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    job = ""
    try:
        start = slurm_time(field(scontrol(env, "-o", "show", "reservation", NAME), "StartTime"))
        up_at = None
        while time.time() < start + 20:
            done = subprocess.run(
                [*standin.split(), "run-once"],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            if up_at is None and all_up(env):
                up_at = time.time()
            if not job and time.time() > start - 8:
                job = sbatch(
                    slurm_env,
                    f"--reservation={NAME}",
                    "-A",
                    "atlas",
                    "-p",
                    "cloud",
                    "-N",
                    "2",
                    "--wrap",
                    "sleep 2",
                )
            time.sleep(2)
        assert up_at is not None and up_at <= start, (up_at, start)
        wait_for(
            lambda: field(scontrol(env, "-o", "show", "job", job), "StartTime") != "Unknown",
            30,
            "the reservation's job to start",
        )
        started = slurm_time(field(scontrol(env, "-o", "show", "job", job), "StartTime"))
        assert start <= started <= start + 15, started - start
        ledger = Ledger.open(tmp_path / "ledger.db")
        (kept,) = [r for r in ledger.reservations(open_only=False) if r.name == NAME]
        assert kept.state is ReservationState.ACTIVE
        assert (kept.ready_at_start, kept.late_s) == (2, 0.0)
        assert kept.lrm_nodes == ATLAS_NODES
        powered = [e.node_id for e in ledger.events(200) if e.kind == "power-up"]
        assert set(powered) == set(ATLAS_NODES)
    finally:
        if job:  # Slurm refuses to delete a reservation that still has jobs
            scancel(slurm_env, job)
            wait_for(lambda: job not in squeue(env), 30, "the job to leave the queue")
        subprocess.run(["scontrol", "delete", f"reservationname={NAME}"], env=env, check=False)
        try:  # Slurm powers the idle nodes down through elastic, as it does in use
            wait_for(
                lambda: all(
                    "POWERED_DOWN" in scontrol(env, "show", "node", n) for n in ATLAS_NODES
                ),
                90,
                "Slurm to suspend the nodes",
            )
        finally:
            command.write_text("")
            resume_down_nodes(env)


def test_a_dynamic_worker_is_put_into_a_real_slurm_reservation(slurm, slurm_env):
    """``join: dynamic``: the reservation cannot name a node that does not exist yet, so
    the worker elastic registers for it is added to it (Slurm 22.05 refuses
    ``Nodes+=``: the adapter writes the whole list), once however often it is asked."""
    name, node = "elastic-rsv-dynamic", "t-atlas-00077"
    env = {**os.environ, "SLURM_CONF": slurm_env["SLURM_CONF"]}
    made = subprocess.run(
        [
            "scontrol", "create", "reservation", f"reservationname={name}",
            "starttime=now+3600", "duration=60", "nodes=vm", "users=root", "flags=ignore_jobs",
        ],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    try:
        slurm.register_node(node, "atlas")
        for _ in range(2):
            slurm.add_to_reservation(name, [node])
        (held,) = [r for r in slurm.snapshot().reservations if r.name == name]
        assert sorted(held.nodes) == [node, "vm"]
        text = scontrol(env, "show", "reservation", name)
        assert text.count(node) == 1
        with pytest.raises(LRMError, match="not found"):
            slurm.add_to_reservation("elastic-rsv-absent", [node])
    finally:
        scontrol(env, "delete", f"reservationname={name}")
        slurm.remove_node(node)
