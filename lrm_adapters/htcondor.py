"""HTCondor through the ``htcondor2`` bindings: idle jobs from every schedd, startd slots.

Layer: adapter I/O behind a small query protocol (``CondorQuery``), so the
ClassAd logic below is tested on real ``condor_q``/``condor_status`` outputs
and the bindings are the only thing that talks to a pool.

VO mapping: the accounting group (``AcctGroup``, or the group part of
``AccountingGroup`` such as ``group_atlas.alice`` → ``atlas``) becomes
``Job.account``; the proxy VO (``x509UserProxyVOName``) becomes
``Job.project``; ``Owner`` is the user. Held jobs (``JobStatus == 5``) are not
demand; only idle ones (``JobStatus == 1``) are. Running jobs are read only when
they carry an enforced limit (``AllowedJobDuration``, from the submit command
``allowed_job_duration``): with their start (``JobCurrentStartDate``) it tells the
planner when their cores free up.

A worker joins by its own configuration (elastic/templates/cloud-init/htcondor.yaml.j2:
CONDOR_HOST, a token, a START expression for its VO) and advertises
``ElasticNodeId``/``ElasticVO``; so ``register_node`` has nothing to do, and a
node is found by ``ElasticNodeId`` (falling back to its machine name). Draining
uses the startd's drain request; removal is the VM's destruction, after which
the startd's ads expire from the collector, so ``remove_node`` only drains.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from elastic.config import HTCondorOptions, Site
from elastic.model import Job, LrmNode, QueueSnapshot, lrm_activity
from lrm_adapters._stream import Text
from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.htcondor_plain import PlainAd, job_from_plain, read_plain

JOB_ATTRS = [
    "ClusterId",
    "ProcId",
    "JobStatus",
    "RequestCpus",
    "RequestMemory",
    "AcctGroup",
    "AccountingGroup",
    "x509UserProxyVOName",
    "Owner",
    "QDate",
    "HoldReason",
    "JobCurrentStartDate",
    "AllowedJobDuration",
    "RemoteHost",  # a running job's machine: what a reservation's drain-ahead bounds
]
#: idle and held jobs (demand, and what is not), and running ones with an enforced limit
JOB_CONSTRAINT = (
    "JobStatus == 1 || JobStatus == 5 || (JobStatus == 2 && AllowedJobDuration =!= undefined)"
)
SLOT_ATTRS = [
    "Name",
    "Machine",
    "SlotType",
    "Cpus",
    "Memory",
    "State",
    "Activity",
    "ElasticNodeId",
    "ElasticVO",
    "TotalCpus",
    "TotalMemory",
]


class CondorQuery(Protocol):
    def queue_jobs(self) -> Iterable[Any]: ...  # job ClassAds matching JOB_CONSTRAINT

    def startd_ads(self) -> Iterable[Any]: ...  # startd slot ClassAds

    def drain(self, machine: str, reason: str) -> None: ...


class BindingsQuery:
    """CondorQuery over the htcondor2 bindings: every schedd the collector knows."""

    def __init__(self, collector: str | None = None) -> None:
        self.collector_host = collector

    def _collector(self) -> Any:
        import htcondor2

        return (
            htcondor2.Collector(self.collector_host)
            if self.collector_host
            else htcondor2.Collector()
        )

    def queue_jobs(self) -> Iterable[Any]:
        import htcondor2

        ads: list[Any] = []
        for schedd_ad in self._collector().locateAll(htcondor2.DaemonType.Schedd):
            schedd = htcondor2.Schedd(schedd_ad)
            ads.extend(schedd.query(constraint=JOB_CONSTRAINT, projection=JOB_ATTRS))
        return ads

    def startd_ads(self) -> Iterable[Any]:
        import htcondor2

        return list(self._collector().query(htcondor2.AdType.Startd, projection=SLOT_ATTRS))

    def drain(self, machine: str, reason: str) -> None:
        import htcondor2

        location = self._collector().locate(htcondor2.DaemonType.Startd, machine)
        htcondor2.Startd(location).drainJobs(htcondor2.DrainType.Graceful, reason=reason)


def parse_long_output(text: Text) -> list[Any]:
    """ClassAds from ``condor_q -long`` / ``condor_status -long`` text (blank-line separated).

    An ad of literals only is a ``PlainAd`` (htcondor_plain), which reads as its classad2
    ad would; every other ad is classad2's."""
    return list(iter_long_output(text))


#: where one ad's text ends: its last newline and the blank lines (whitespace at most) after
_AD_END = re.compile(r"\n(?:[^\S\n]*+\n)+")
#: blank lines before the first ad
_LEADING_BLANKS = re.compile(r"(?:[^\S\n]*+\n)*+")


def iter_long_output(text: Text) -> Iterator[Any]:
    """``parse_long_output`` one ad at a time, from the whole text or its chunks.

    The text is cut at blank lines and each ad parsed on its own: linear in the number
    of ads, where one ``parseAds`` over a 100k-ad text grows faster than linearly, and
    ``parseOne`` copies every ad once more; only the ad being read is held. An ad whose
    every line is a plain literal is read without classad2 (``read_plain``).
    """
    import classad2

    for chunk in _ad_texts(text):
        plain = read_plain(chunk)
        if plain is not None:
            yield plain
            continue
        try:
            ad = classad2.parseNext(chunk)
        except Exception as exc:  # classad2 raises its own error types
            raise LRMParseError(f"unreadable ClassAd: {exc}") from exc
        if ad is None:
            raise LRMParseError(f"unreadable ClassAd: {chunk[:200]!r}")
        yield ad


def _ad_texts(text: Text) -> Iterator[str]:
    """Each ad's text: a run of lines that are not blank (lines as ``lines`` gives them),
    joined by newlines, found by splits in C rather than a step a line.

    A chunk is read up to a whole blank line, where no ad goes on (the last empty one,
    else the last blank one); the lines after it wait for the next chunk.
    """
    if isinstance(text, str):
        yield from _ads_in("\n".join(text.splitlines()) + "\n\n")
        return
    held: list[str] = []  # whole lines not yet read
    tail = ""  # the line the last chunk ended in
    for chunk in text:
        region = tail + chunk
        end = region.rfind("\n\n") + 2
        if end == 1:  # no empty line: a blank one with whitespace, if any
            end = max((m.end() for m in _AD_END.finditer(region)), default=1)
        if end > 1:
            yield from _ads_in("".join(held) + region[:end] if held else region[:end])
            held = []
            region = region[end:]
        cut = region.rfind("\n") + 1
        if cut:
            held.append(region[:cut])
        tail = region[cut:]
    yield from _ads_in("".join(held) + tail + "\n\n")


def _ads_in(settled: str) -> Iterator[str]:
    """The ads of text that ends with a whole blank line."""
    leading = _LEADING_BLANKS.match(settled)
    body = settled[leading.end() :] if leading is not None and leading.end() else settled
    return filter(None, _AD_END.split(body))


def _number(ad: Any, key: str, default: int) -> int:
    """A literal attribute as it is; an expression (``RequestCpus = 2 * 4``) evaluated."""
    value = ad.get(key, default)
    if type(value) is int:  # the common case, a literal: no further checks
        return value
    if not isinstance(value, int | float) and hasattr(ad, "eval"):
        try:
            value = ad.eval(key)
        except Exception:  # an expression that cannot be evaluated: the default
            return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value) if math.isfinite(value) else default  # a real of inf or nan


def _text(ad: Any, key: str) -> str | None:
    value = ad.get(key)
    return str(value) if value else None


def job_from_ad(ad: Any) -> Job:
    """Each attribute is read once: a 100k-job queue spends most of its time in lookups.

    An ad of literals from ``-long`` text is read from its values (``job_from_plain``),
    where each read is a dict lookup rather than a call into classad2.
    """
    if type(ad) is PlainAd:
        return job_from_plain(ad.values)
    status = _number(ad, "JobStatus", 0)
    group = _text(ad, "AcctGroup")
    if group is None and (accounting := _text(ad, "AccountingGroup")) is not None:
        group = accounting.split(".")[0].removeprefix("group_")
    return Job(
        id=f"{ad.get('ClusterId')}.{ad.get('ProcId', 0)}",
        cores=max(1, _number(ad, "RequestCpus", 1)),
        memory_mb=max(0, _number(ad, "RequestMemory", 0)),
        runnable=status == 1,
        running=status == 2,
        user=_text(ad, "Owner"),
        project=_text(ad, "x509UserProxyVOName"),
        account=group or None,
        submit_time=float(_number(ad, "QDate", 0)) or None,
        walltime_s=_number(ad, "AllowedJobDuration", 0) or None,
        start_time=(float(_number(ad, "JobCurrentStartDate", 0)) or None) if status == 2 else None,
        # RemoteHost is slot@machine: the machine a running job's claim is on
        hosts=(str(ad["RemoteHost"]).split("@")[-1],)
        if status == 2 and ad.get("RemoteHost")
        else (),
        reason="" if status in {1, 2} else _text(ad, "HoldReason") or f"JobStatus {status}",
    )


def nodes_from_ads(ads: Iterable[Any]) -> list[LrmNode]:
    """One node per machine: partitionable slots count free cores, dynamic ones busy.

    A slot in ``State = "Owner"`` (its START expression is false: the machine's owner
    has it, or the admin keeps HTCondor off it) runs no HTCondor job and takes none, so
    its cores are not capacity, and a machine whose every slot is Owner is DRAINED:
    empty, and accepting nothing new. Unclaimed slots beside Owner ones still count.
    """
    machines: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"cores": 0, "memory": 0, "busy": 0, "draining": False, "open": 0, "vo": None}
    )
    for ad in ads:
        name = str(ad.get("ElasticNodeId") or ad.get("Machine") or ad.get("Name", "?"))
        machine = machines[name]
        machine["vo"] = ad.get("ElasticVO") or machine["vo"]
        state = str(ad.get("State"))
        if state == "Owner":
            continue
        machine["open"] += 1
        # every slot's cores add up to the machine: a partitionable slot holds what is
        # still free, its dynamic children what is claimed
        machine["cores"] += _number(ad, "Cpus", 0)
        machine["memory"] += _number(ad, "Memory", 0)
        if str(ad.get("SlotType", "Static")) == "Dynamic" or state == "Claimed":
            machine["busy"] += 1
        machine["draining"] |= state == "Drained"
    nodes = []
    for name, m in sorted(machines.items()):
        draining = bool(m["draining"]) or m["open"] == 0  # every slot Owner
        state = lrm_activity(draining, m["busy"] > 0)
        nodes.append(
            LrmNode(
                name, state, m["cores"], m["memory"], m["busy"], str(m["vo"]) if m["vo"] else None
            )
        )
    return nodes


class HTCondorAdapter:
    name = "htcondor"

    def __init__(self, query: CondorQuery) -> None:
        self.query = query

    def snapshot(self) -> QueueSnapshot:
        try:
            jobs = [job_from_ad(ad) for ad in self.query.queue_jobs()]
            nodes = nodes_from_ads(self.query.startd_ads())
        except LRMError:
            raise
        except Exception as exc:  # the bindings raise their own types: make them ours
            raise LRMParseError(f"HTCondor query failed: {exc}") from exc
        return QueueSnapshot(tuple(jobs), tuple(nodes))

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        """Nothing to do: the worker joins by its own configuration (see module doc).

        HTCondor chooses slots in the negotiator; a site that wants local slots first
        ranks them there (``NEGOTIATOR_PRE_JOB_RANK``), which no call here can set."""

    def drain_node(self, hostname: str, reason: str) -> None:
        if any(n.name == hostname for n in nodes_from_ads(self.query.startd_ads())):
            self.query.drain(hostname, reason)

    def remove_node(self, hostname: str) -> None:
        """The VM's destruction removes the startd; its ads expire from the collector."""


def from_site(site: Site) -> HTCondorAdapter:
    return HTCondorAdapter(BindingsQuery(site.lrm_options(HTCondorOptions).collector))
