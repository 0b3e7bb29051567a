"""PBS: Torque and OpenPBS/PBS Pro. Observe the queue; join and retire nodes with qmgr.

Layer: adapter I/O, every command through ``CommandRunner``. ``lrm.options.flavor``
picks the dialect: ``torque`` reads ``qstat -f`` (text) and ``pbsnodes -x``;
``openpbs`` (also PBS Pro) reads ``qstat -f -F json``, ``pbsnodes -av -F json`` and its
reservations, ``pbs_rstat -F``.
A worker joins as a node whose properties (Torque) or ``resources_available.vo``
(OpenPBS) name its VO, so queues can route the VO's jobs there; its pbs_mom is
pointed at the server by the contextualization template. Drain is ``pbsnodes -o``;
removal ``qmgr -c "delete node …"``. The qmgr directive is a single argument built
only from names checked against a strict pattern: there is no shell anywhere.
"""

from __future__ import annotations

import re

from elastic.config import PbsOptions, Site
from elastic.model import QueueSnapshot
from lrm_adapters._command import CommandRunner, streamed
from lrm_adapters._stream import decoded
from lrm_adapters.base import LRMError, checked_name, merge_running
from lrm_adapters.pbs_parse import (
    parse_pbsnodes_json,
    parse_pbsnodes_xml,
    parse_qstat_json,
    parse_qstat_text,
)
from lrm_adapters.reservations_pbs import parse_pbs_rstat

#: PBS Pro node priority of cloud workers, below local ones (unset, read as 0) for a
#: scheduler whose node_sort_key is "sort_priority HIGH"
CLOUD_PRIORITY = -100


class PbsAdapter:
    """LRMAdapter for Torque (``flavor=torque``) and OpenPBS / PBS Pro (``flavor=openpbs``)."""

    name = "pbs"

    def __init__(self, runner: CommandRunner, *, flavor: str = "torque"):
        if flavor not in {"torque", "openpbs"}:
            raise LRMError(f"lrm.options.flavor must be torque or openpbs, not {flavor!r}")
        self.runner = runner
        self.flavor = flavor

    def snapshot(self) -> QueueSnapshot:
        if self.flavor == "openpbs":
            jobs, per_host = streamed(  # read as it comes: a 1M-job queue, never whole
                self.runner,
                ["qstat", "-f", "-F", "json"],
                lambda chunks: parse_qstat_json(decoded(chunks)),
            )
            nodes = parse_pbsnodes_json(self.runner.run(["pbsnodes", "-av", "-F", "json"]))
            reservations = tuple(parse_pbs_rstat(self.runner.run(["pbs_rstat", "-F"])))
        else:
            jobs, per_host = streamed(  # read as it comes: a 1M-job queue, never whole
                self.runner, ["qstat", "-f"], lambda chunks: parse_qstat_text(decoded(chunks))
            )
            nodes = parse_pbsnodes_xml(self.runner.run(["pbsnodes", "-x"]))
            reservations = ()  # Torque has no pbs_rstat (its reservations are Moab's)
        # pbsnodes' jobs and qstat's exec_host both count, also for a node pbsnodes omits
        merged = merge_running(nodes, per_host)
        return QueueSnapshot(tuple(jobs), merged, reservations)

    def _exists(self, host: str) -> bool:
        try:
            self.runner.run(["pbsnodes", host])
        except LRMError as exc:
            text = exc.stderr.lower()
            if exc.exit_code is not None and ("unknown node" in text or "does not exist" in text):
                return False
            raise
        return True

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        host, group = checked_name(hostname), checked_name(vo)
        if not self._exists(host):
            self.runner.run(["qmgr", "-c", f"create node {host}"])
        if self.flavor == "openpbs":
            directive = f"set node {host} resources_available.vo = {group}"
        else:
            directive = f"set node {host} properties = {group}"
        self.runner.run(["qmgr", "-c", directive])
        if cores and self.flavor != "openpbs":  # Torque's np is set, not reported by the MOM
            self.runner.run(["qmgr", "-c", f"set node {host} np = {int(cores)}"])
        if cloud and self.flavor == "openpbs":  # with node_sort_key "sort_priority HIGH"
            self.runner.run(["qmgr", "-c", f"set node {host} priority = {CLOUD_PRIORITY}"])

    def drain_node(self, hostname: str, reason: str) -> None:
        host = checked_name(hostname)
        if self._exists(host):
            note = re.sub(r"[^\w .,:=()-]", "_", reason)[:200]
            self.runner.run(["pbsnodes", "-o", "-N", note, host])

    def remove_node(self, hostname: str) -> None:
        host = checked_name(hostname)
        if self._exists(host):
            self.runner.run(["qmgr", "-c", f"delete node {host}"])


def from_site(site: Site) -> PbsAdapter:
    runner = CommandRunner(timeout_s=site.lrm.timeout_s)
    return PbsAdapter(runner, flavor=site.lrm_options(PbsOptions).flavor)
