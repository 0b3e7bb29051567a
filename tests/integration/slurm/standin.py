"""A provider stand-in for the power-saving test: "booting" a Slurm CLOUD node starts
``slurmd -b -N <node>`` on this machine; destroying it stops that slurmd. Slurm runs this
module as its Resume/SuspendProgram (through scripts/services/slurm-up's wrappers):

    python -m tests.integration.slurm.standin --config SITE resume|suspend HOSTLIST

and ``run-once`` runs one pass of ``elastic run-once`` over the same stand-in provider.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import time
from pathlib import Path

from elastic.config import load_site
from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import BootRequest, Host, Inventory, ProviderKind, VMRef
from elastic.slurm_power import run_power
from elastic.wiring import build_lrm

PIDS = Path("/run/slurm-elastic")


class SlurmdStandin:
    kind = ProviderKind.LIBVIRT

    def pidfile(self, node: str) -> Path:
        return PIDS / f"slurmd-{node}.pid"

    def inventory(self) -> Inventory:
        found = subprocess.run(
            ["pgrep", "-a", "-f", "slurmd -b -N "], capture_output=True, text=True, check=False
        ).stdout.split("\n")
        names = [line.rsplit(" ", 1)[-1] for line in found if line.strip()]
        vms = tuple(VMRef(n, self.kind, "standin", f"slurmd-{n}") for n in names)
        return Inventory(self.kind, (Host("standin", 64, 64000, 64, 64000),), vms)

    def boot(self, request: BootRequest) -> VMRef:
        running = subprocess.run(
            ["pgrep", "-f", f"slurmd -b -N {request.node_id}$"], capture_output=True, check=False
        )
        if running.returncode:
            subprocess.run(["/usr/sbin/slurmd", "-b", "-N", request.node_id], check=True)
        return VMRef(request.node_id, self.kind, "standin", f"slurmd-{request.node_id}")

    def destroy(self, vm: VMRef) -> None:
        """Stop that node's slurmd: TERM, then KILL if it lingers."""
        pattern = f"slurmd -b -N {vm.node_id}$"
        subprocess.run(["pkill", "-TERM", "-f", pattern], check=False)
        for _ in range(50):
            if subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode:
                break
            time.sleep(0.1)
        else:
            subprocess.run(["pkill", "-KILL", "-f", pattern], check=False)
        self.pidfile(vm.node_id).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("verb", choices=["resume", "suspend", "run-once"])
    parser.add_argument("hostlist", nargs="?", default="")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    site = load_site(args.config)
    engine = Engine(
        site,
        Ledger.open(site.state_path()),
        build_lrm(site),
        {ProviderKind.LIBVIRT: SlurmdStandin()},
        lambda s, vo, host, node, cloud=False: "#cloud-config\n{}\n",
    )
    if args.verb == "run-once":  # a pass, as cron runs it, seeing the stand-in's "VMs"
        result = engine.run_pass()
        return 4 if result.degraded else 0
    return run_power(args.verb, args.hostlist, engine)


if __name__ == "__main__":
    sys.exit(main())
