"""Son of Grid Engine (and other Grid Engines): observe the queue, join and retire hosts.

Layer: adapter I/O, every command through ``CommandRunner`` (argument lists, a
timeout). Observation is two commands: ``qstat -f -u '*' -r -ext -urg -xml`` (queue
instance states, running jobs, pending jobs with project and requests) and
``qhost -xml`` (host sizes; a load of ``-`` means the execd is silent), and the advance
reservations, ``qrstat -xml -u '*'`` then ``qrstat -ar <ids> -xml``.

A worker joins as an administrative and execution host that is a member of the
hostgroup ``@<vo>``; the hostgroup is created on first use and added to the
queue's host list (``lrm.options.queue``, default ``all.q``), so the VO's jobs
(matched by project, queue, user or unix group) can run there. Draining disables
every queue instance on the host (``qmod -d '*@host'``); removal undoes the join
in the only order SGE accepts: hostgroup, execution host, administrative host.
Every step first reads the current configuration, so each call is idempotent.
"""

from __future__ import annotations

import grp
import pwd
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from elastic.config import SgeOptions, Site, VoConfig
from elastic.model import Job, LrmReservation, QueueSnapshot
from lrm_adapters._command import CommandRunner, streamed
from lrm_adapters.base import LRMError, checked_name
from lrm_adapters.reservations_sge import parse_qrstat_ar_xml, parse_qrstat_ids
from lrm_adapters.sge_parse import merge_nodes, parse_qhost_xml, parse_qstat_j_xml, parse_qstat_xml

EXEC_HOST_TEMPLATE = (
    "hostname {host}\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\n"
    "xuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\n"
    "report_variables NONE\n"
)


@lru_cache(maxsize=4096)
def unix_group(user: str) -> str | None:
    """The primary group of a local user, for VO rules that match on group."""
    try:
        return grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except (KeyError, OverflowError):
        return None


#: queue sequence number of cloud workers' queue instances (local ones keep the queue's)
CLOUD_SEQ_NO = "100"


def queue_attribute(config: str, name: str) -> str:
    """One attribute's value from ``qconf -sq`` output, continuation lines joined."""
    for line in config.replace("\\\n", " ").splitlines():
        words = line.split(None, 1)
        if words and words[0] == name:
            return words[1].strip() if len(words) > 1 else ""
    return ""


class SgeAdapter:
    """LRMAdapter for Son of Grid Engine 8 / SGE 6.2 / UGE."""

    name = "sge"

    def __init__(
        self, runner: CommandRunner, vos: Sequence[VoConfig], *, queue: str = "all.q"
    ) -> None:
        self.runner = runner
        self.vos = list(vos)
        self.queue = queue
        # host groups and the queue's host list are shared by every node of a VO: the
        # actuator registers nodes from several threads, and check-then-create on them
        # must not interleave
        self._config = threading.Lock()

    def snapshot(self) -> QueueSnapshot:
        # -ext for projects; -urg because -ext alone drops the submission and start times
        argv = ["qstat", "-f", "-u", "*", "-r", "-ext", "-urg", "-xml"]
        qstat = streamed(self.runner, argv, parse_qstat_xml)  # a 1M-job queue, never whole
        hosts = parse_qhost_xml(self.runner.run(["qhost", "-xml"]))
        groups = self._groups([j for j in qstat.jobs if not j.running])
        jobs = []
        for job in qstat.jobs:
            if job.group is None:
                group = groups.get(job.id) or (unix_group(job.user) if job.user else None)
                job = replace(job, group=group)
            jobs.append(job)
        return QueueSnapshot(
            jobs=tuple(jobs),
            nodes=merge_nodes(hosts, qstat),
            reservations=tuple(self._reservations()),
        )

    def _reservations(self) -> list[LrmReservation]:
        """Every user's advance reservations: the listing, then one detail call for all of
        them (granted queue instances and slots). ``qrstat -ar`` exits 1 when an AR was
        deleted meanwhile, with XML that says so; the parser judges that output."""
        ids = parse_qrstat_ids(self.runner.run(["qrstat", "-xml", "-u", "*"]))
        if not ids:
            return []
        detail = self.runner.run(["qrstat", "-ar", ",".join(ids), "-xml"], ok_codes=(0, 1))
        return parse_qrstat_ar_xml(detail, ids)

    def _groups(self, pending: list[Job]) -> dict[str, str]:
        """Unix groups of pending jobs, asked of SGE only when a VO matches on group
        (``qstat -r`` does not print them, and job owners need not exist on this host)."""
        if not pending or not any(vo.match.group for vo in self.vos):
            return {}
        ids = ",".join(sorted({j.id for j in pending}))
        details = parse_qstat_j_xml(self.runner.run(["qstat", "-j", ids, "-xml"]))
        return {j.id: j.group for j in details if j.group}

    def _listing(self, *argv: str) -> set[str]:
        """Names printed by a ``qconf -s…`` listing; an empty list is not an error."""
        try:
            text = self.runner.run(["qconf", *argv])
        except LRMError as exc:
            if "no " in exc.stderr.lower() and "defined" in exc.stderr.lower():
                return set()
            raise
        return {line.strip() for line in text.splitlines() if line.strip()}

    def _apply_file(self, option: str, content: str) -> None:
        with tempfile.TemporaryDirectory(prefix="elastic-sge-") as scratch:
            path = Path(scratch) / "object"
            path.write_text(content, encoding="utf-8")
            self.runner.run(["qconf", option, str(path)])

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        host = checked_name(hostname)
        group = f"@{checked_name(vo)}"
        with self._config:
            self._register(host, group)
            if cloud:  # sorted last when the scheduler's queue_sort_method is seqno
                self.runner.run(
                    ["qconf", "-mattr", "queue", "seq_no", CLOUD_SEQ_NO, f"{self.queue}@{host}"]
                )

    def _register(self, host: str, group: str) -> None:
        if host not in self._listing("-sh"):
            self.runner.run(["qconf", "-ah", host])
        if host not in self._listing("-sel"):
            self._apply_file("-Ae", EXEC_HOST_TEMPLATE.format(host=host))
        created = False
        if group not in self._listing("-shgrpl"):
            try:
                self._apply_file("-Ahgrp", f"group_name {group}\nhostlist {host}\n")
                created = True
            except LRMError as exc:  # made meanwhile by someone else: add to it below
                if "already exists" not in exc.stderr:
                    raise
        if not created and host not in self._hostgroup_members(group):
            self.runner.run(["qconf", "-aattr", "hostgroup", "hostlist", host, group])
        queue_hosts = self.runner.run(["qconf", "-sq", self.queue])
        if not re.search(rf"(^|[\s,]){re.escape(group)}([\s,\\]|$)", queue_hosts, re.M):
            self.runner.run(["qconf", "-aattr", "queue", "hostlist", group, self.queue])

    def _hostgroup_members(self, group: str) -> set[str]:
        text = self.runner.run(["qconf", "-shgrp", group])
        members: set[str] = set()
        for line in text.splitlines():
            words = line.replace("\\", " ").split()
            if words and words[0] == "group_name":
                continue
            members.update(w for w in words if w != "hostlist")
        return members

    def drain_node(self, hostname: str, reason: str) -> None:
        host = checked_name(hostname)
        if host in self._listing("-sel"):
            self.runner.run(["qmod", "-d", f"*@{host}"])

    def remove_node(self, hostname: str) -> None:
        host = checked_name(hostname)
        with self._config:
            self._remove(host)

    def _remove(self, host: str) -> None:
        seq_no = queue_attribute(self.runner.run(["qconf", "-sq", self.queue]), "seq_no")
        if f"[{host}=" in seq_no:  # only a cloud worker has its own; purging none is an error
            self.runner.run(["qconf", "-purge", "queue", "seq_no", f"{self.queue}@{host}"])
        for group in sorted(self._listing("-shgrpl")):
            if host in self._hostgroup_members(group):
                self.runner.run(["qconf", "-dattr", "hostgroup", "hostlist", host, group])
        if host in self._listing("-sel"):
            self.runner.run(["qconf", "-de", host])
        if host in self._listing("-sh"):
            self.runner.run(["qconf", "-dh", host])


def from_site(site: Site) -> SgeAdapter:
    options = site.lrm_options(SgeOptions)
    runner = CommandRunner(timeout_s=site.lrm.timeout_s, env=options.lrm_env())
    return SgeAdapter(runner, site.vos, queue=options.queue)
