"""Slurm: observe the queue; join and retire nodes in either of Slurm's two cloud modes.

Layer: adapter I/O, every command through ``CommandRunner``. Observation is
``squeue --json`` and ``sinfo --json`` (``--json`` exists from 21.08; earlier
releases, or a Slurm built without JSON, are read through ``scontrol -o show
jobs|nodes`` text instead). Advance reservations come with every reading: ``scontrol
show reservation --json`` (23.02+), ``--oneliner`` text before that.

Two ways for workers to join (``lrm.options.join``), documented in docs/slurm.md:

- ``dynamic`` (default): elastic decides, boots, and registers each worker as a
  dynamic node, ``scontrol create nodename=<id> cpus=… realmemory=… feature=<vo>
  weight=… state=FUTURE`` (cloud workers weigh more, so Slurm fills local ones
  first and cloud ones fall idle first); the worker's slurmd (started by cloud-init with ``-Z``)
  brings it up. Drain is ``scontrol update … state=drain``; removal is
  ``scontrol delete nodename=<id>``.
- ``power_save``: the nodes are ``State=CLOUD`` lines in slurm.conf and Slurm
  itself decides when to start and stop them, calling ``elastic slurm-resume`` /
  ``elastic slurm-suspend`` as its ResumeProgram/SuspendProgram
  (elastic/slurm_power.py). Registration and removal are Slurm's own, so here
  they do nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from elastic.config import Site, SlurmOptions, VoConfig
from elastic.model import Job, LrmNode, LrmNodeState, LrmReservation, QueueSnapshot
from lrm_adapters._command import CommandRunner, streamed
from lrm_adapters._stream import decoded
from lrm_adapters.base import LRMError, checked_name, merge_running
from lrm_adapters.reservations_slurm import parse_reservations_json, parse_reservations_text
from lrm_adapters.slurm_parse import parse_sinfo_json, parse_squeue_json
from lrm_adapters.slurm_text import parse_scontrol_jobs, parse_scontrol_nodes

NO_JSON = ("unrecognized option", "invalid option", "json")
#: Slurm allocates the lowest-weight nodes first (1 is its default)
LOCAL_WEIGHT, CLOUD_WEIGHT = 1, 100


def reason_text(reason: str) -> str:
    """``reason=`` for scontrol: the characters an admin's Slurm tools and scripts read
    safely (others become ``_``), at most 200 of them."""
    return re.sub(r"[^\w .,:=()-]", "_", reason)[:200] or "elastic"


class SlurmAdapter:
    """LRMAdapter for Slurm (21.08 and newer; text fallback for older)."""

    name = "slurm"

    def __init__(self, runner: CommandRunner, vos: Sequence[VoConfig], *, join: str = "dynamic"):
        if join not in {"dynamic", "power_save"}:
            raise LRMError(f"lrm.options.join must be dynamic or power_save, not {join!r}")
        self.runner = runner
        self.vos = list(vos)
        self.join = join
        #: cleared the first time this Slurm refuses ``scontrol show reservation --json``
        self._reservation_json = True

    def _jobs(self) -> tuple[list[Job], Counter[str]]:
        """Both listings are read as they come (a 1M-job queue is ~320 MB of JSON). A
        Slurm refusing ``--json`` exits nonzero, and that exit, not the parser's complaint
        about its (empty) output, is what ``stream`` raises: so the fallback is taken."""
        try:
            return streamed(
                self.runner,
                ["squeue", "--json"],
                lambda chunks: parse_squeue_json(decoded(chunks)),
            )
        except LRMError as exc:
            if exc.exit_code is None or not any(w in exc.stderr.lower() for w in NO_JSON):
                raise
        argv = ["scontrol", "-o", "show", "jobs"]
        return streamed(self.runner, argv, lambda chunks: parse_scontrol_jobs(decoded(chunks)))

    def _nodes(self) -> list[LrmNode]:
        try:
            return parse_sinfo_json(self.runner.run(["sinfo", "--json"]))
        except LRMError as exc:
            if exc.exit_code is None or not any(w in exc.stderr.lower() for w in NO_JSON):
                raise
        return parse_scontrol_nodes(self.runner.run(["scontrol", "-o", "show", "nodes"]))

    def _reservations(self) -> list[LrmReservation]:
        """JSON where the release has it (23.02+: epoch times, no time zone to guess);
        ``--oneliner`` text otherwise. A failure raises: no reservations is never assumed."""
        if self._reservation_json:
            try:
                text = self.runner.run(["scontrol", "show", "reservation", "--json"])
            except LRMError as exc:
                if exc.exit_code is None or not any(w in exc.stderr.lower() for w in NO_JSON):
                    raise
                self._reservation_json = False
            else:
                return parse_reservations_json(text)
        text = self.runner.run(["scontrol", "show", "reservation", "--oneliner"])
        return parse_reservations_text(text)

    def snapshot(self) -> QueueSnapshot:
        jobs, per_node = self._jobs()
        nodes = []
        for node in self._nodes():
            running = per_node.get(node.name, 0)
            if node.state in {LrmNodeState.BUSY, LrmNodeState.DRAINING}:
                running = max(running, 1)  # allocated: never treat as empty
            nodes.append(replace(node, running_jobs=running))
        # squeue's jobs on a node sinfo left out still make it busy
        merged = merge_running(nodes, per_node)
        return QueueSnapshot(tuple(jobs), merged, tuple(self._reservations()))

    def _exists(self, name: str) -> bool:
        try:
            self.runner.run(["scontrol", "--future", "show", "node", name])
        except LRMError as exc:
            if exc.exit_code is not None and "not found" in exc.stderr.lower():
                return False
            raise
        return True

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        name = checked_name(hostname)
        if self.join == "power_save" or self._exists(name):
            return
        flavor = next(v.flavor for v in self.vos if v.name == vo)
        cores, memory_mb = cores or flavor.cores, memory_mb or flavor.memory_mb
        self.runner.run(
            [
                "scontrol",
                "create",
                f"nodename={name}",
                f"cpus={cores}",
                f"realmemory={memory_mb}",
                f"feature={checked_name(vo)}",
                f"weight={CLOUD_WEIGHT if cloud else LOCAL_WEIGHT}",
                "state=FUTURE",
            ]
        )

    def drain_node(self, hostname: str, reason: str) -> None:
        name = checked_name(hostname)
        if not self._exists(name):
            return
        text = reason_text(reason)
        self.runner.run(["scontrol", "update", f"nodename={name}", "state=drain", f"reason={text}"])

    def power_up(self, hostname: str) -> None:
        """Power a ``State=CLOUD`` node up now: Slurm calls its ResumeProgram, as it would
        for a job (a node already up or powering up is left as it is)."""
        name = checked_name(hostname)
        self.runner.run(["scontrol", "update", f"nodename={name}", "state=power_up"])

    def add_to_reservation(self, reservation: str, hostnames: Sequence[str]) -> None:
        """Slurm 22.05 refuses ``Nodes+=`` on a reservation: the whole list is written,
        the nodes it holds now plus ``hostnames``. With ``join: power_save`` the
        reservation names its CLOUD nodes from its creation: nothing to add."""
        if self.join == "power_save":
            return
        name, hosts = checked_name(reservation), [checked_name(h) for h in hostnames]
        text = self.runner.run(["scontrol", "show", "reservation", name, "--oneliner"])
        held = next((r.nodes for r in parse_reservations_text(text) if r.name == name), None)
        if held is None:
            raise LRMError(f"Slurm has no reservation {name}")
        wanted = [*held, *(h for h in hosts if h not in held)]
        if len(wanted) == len(held):
            return
        self.runner.run(
            ["scontrol", "update", f"reservationname={name}", f"nodes={','.join(wanted)}"]
        )

    def remove_node(self, hostname: str) -> None:
        name = checked_name(hostname)
        if self.join == "power_save" or not self._exists(name):
            return
        self.runner.run(["scontrol", "delete", f"nodename={name}"])


def from_site(site: Site) -> SlurmAdapter:
    options = site.lrm_options(SlurmOptions)
    runner = CommandRunner(timeout_s=site.lrm.timeout_s, env=options.lrm_env())
    return SlurmAdapter(runner, site.vos, join=options.join)
