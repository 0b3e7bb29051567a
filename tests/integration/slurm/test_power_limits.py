"""A real slurmctld asks elastic (its ResumeProgram) for more nodes than the VO's max_nodes
allows: elastic boots what the limit allows, records it, and sets each other node DOWN in
Slurm with its reason (issue 10, "Slurm power saving obeys the same limits")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from elastic.ledger import Ledger
from elastic.model import NodeState
from tests.integration.conftest import wait_for
from tests.integration.slurm.test_slurm_real import REPO, sbatch, scancel

pytestmark = pytest.mark.slurm
POWER_LOG = Path("/var/log/slurm-elastic/power.log")
ATLAS_NODES = ("cloud1", "cloud2")  # Feature=atlas in scripts/services/slurm-up


def write_site(path: Path, slurm_conf: str, max_nodes: int = 1, **sections: object) -> None:
    """A power-save site over the stand-in host, with one VO: by default its max_nodes (1)
    is below what a two-node job makes Slurm resume; ``sections`` are added as they are."""
    site: dict[str, object] = {
        "site": {"name": "pl", "state": str(path.parent / "ledger.db")},
        "lrm": {"kind": "slurm", "options": {"slurm_conf": slurm_conf, "join": "power_save"}},
        "vos": [
            {
                "name": "atlas",
                "match": {"account": ["atlas"]},
                "flavor": {"cores": 2, "memory_mb": 1000},
                "image": {"libvirt": "x"},
                "max_nodes": max_nodes,
            }
        ],
        "local": {
            "hosts": [
                {"name": "standin", "uri": "test:///default", "cores": 64, "memory_mb": 64000}
            ]
        },
    }
    site.update(sections)
    path.write_text(yaml.safe_dump(site))


def scontrol(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["scontrol", *args], env=env, capture_output=True, text=True, check=False
    ).stdout


def resume_down_nodes(env: dict[str, str]) -> None:
    """Nodes an earlier run left DOWN go back to powered-down idle, once Slurm has
    finished powering them down (a resume in mid power-down would be lost)."""
    for _ in range(30):
        if all("POWERED_DOWN" in scontrol(env, "show", "node", n) for n in ATLAS_NODES):
            break
        time.sleep(1)
    for name in ATLAS_NODES:
        if "State=DOWN" in scontrol(env, "show", "node", name):
            scontrol(env, "update", f"nodename={name}", "state=resume")
    # A refused node keeps NOT_RESPONDING (it never registered); after a slurmctld restart
    # Slurm leaves such a node out of scheduling. A forced power-down clears the flag.
    flagged = [n for n in ATLAS_NODES if "NOT_RESPONDING" in scontrol(env, "show", "node", n)]
    for name in flagged:
        scontrol(env, "update", f"nodename={name}", "state=power_down_force")
    for _ in range(30 if flagged else 0):
        if not any("POWERING_DOWN" in scontrol(env, "show", "node", n) for n in flagged):
            break
        time.sleep(1)


@pytest.mark.slow
def test_resume_beyond_vo_max_nodes_boots_one_and_sets_the_other_down(tmp_path, slurm_env):
    env = {**os.environ, **slurm_env}
    site_file = tmp_path / "site.yaml"
    write_site(site_file, slurm_env["SLURM_CONF"])
    resume_down_nodes(env)
    log_start = POWER_LOG.stat().st_size if POWER_LOG.exists() else 0
    command = Path(slurm_env["SLURM_POWER_CMD_FILE"])
    command.write_text(
        f"/usr/bin/env PYTHONPATH={REPO} {sys.executable} -m "
        f"tests.integration.slurm.standin --config {site_file}\n"
    )
    ledger = Ledger.open(tmp_path / "ledger.db")
    job = sbatch(
        slurm_env, "-p", "cloud", "-A", "atlas", "-C", "atlas", "-N", "2", "--wrap", "true"
    )

    def refused() -> list[str]:
        return [n for n in ATLAS_NODES if "Reason=elastic: " in scontrol(env, "show", "node", n)]

    try:
        wait_for(lambda: ledger.nodes() and refused(), 90, "Slurm to resume both atlas nodes")
        (booted,) = ledger.nodes()
        (down,) = refused()
        assert {booted.id, down} == set(ATLAS_NODES)
        assert booted.vo == "atlas" and booted.location == "standin"
        assert booted.state in {NodeState.JOINING, NodeState.READY}
        assert ledger.get(down) is None, "a refused node must leave no trace in the ledger"
        logged = POWER_LOG.read_bytes()[log_start:].decode(errors="replace")
        assert f"resume {down} refused: VO atlas max_nodes 1 reached" in logged
        # powered down at once (SuspendTimeout), not left POWERING_UP until ResumeTimeout
        # replaces elastic's reason with its own
        wait_for(lambda: "POWERED_DOWN" in scontrol(env, "show", "node", down), 45, "power-down")
        shown = scontrol(env, "show", "node", down)
        assert "State=DOWN+" in shown
        assert "Reason=elastic: VO atlas max_nodes 1 reached (" in shown
    finally:
        scancel(slurm_env, job)
        try:  # Slurm powers the booted node down through elastic, as it does in use
            wait_for(lambda: not ledger.nodes(), 90, "Slurm to suspend the booted node")
        finally:
            command.write_text("")
            resume_down_nodes(env)
