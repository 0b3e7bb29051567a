"""Son of Grid Engine XML output to model objects: pure, streaming parsers.

Layer: pure parsing. ``qstat -f -u '*' -r -ext -urg -xml`` gives queue instances (with
their state letters and the jobs running in them) and the pending list;
``qhost -xml`` gives each host's size and whether its execd reports (a load of
``-`` means down). Both are streamed (expat callbacks for qstat, ``iterparse``
with each finished element cleared for qhost), so a 100k-job queue is parsed
in one pass without holding a tree.
An array job's pending tasks (``<tasks>41-150:1</tasks>``) become one Job with a
count. SGE memory requests are per slot, so a job's memory is per-slot × slots.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from xml.parsers import expat

from elastic.model import Job, LrmNode, LrmNodeState, lrm_activity
from lrm_adapters._gc import collector_held
from lrm_adapters._memo import Memo
from lrm_adapters._numbers import bounded, whole
from lrm_adapters._times import epoch
from lrm_adapters._units import memory_mb
from lrm_adapters.base import LRMParseError, merge_running

MEMORY_REQUESTS = ("h_vmem", "mem_free", "h_rss", "h_data", "virtual_free", "s_vmem", "mem_req")
_DOWN_LETTERS = set("uaoEc")


def seconds(text: str) -> int | None:
    """``3600`` or ``1:00:00`` → seconds."""
    parts = text.strip().split(":")
    try:
        values = [int(float(p or 0)) for p in parts]
    except (ValueError, OverflowError):  # garbled, nan or inf: no limit known
        return None
    total = 0
    for value in values:
        total = total * 60 + value
    return total


def task_count(text: str) -> int:
    """``41-150:1`` → 110, ``8,9`` → 2, ``5`` → 1."""
    count = 0
    for part in text.split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part.strip())
        if match is None:
            continue
        first = int(match.group(1))
        last = int(match.group(2) or first)
        step = int(match.group(3) or 1)
        if step <= 0:
            raise LRMParseError(f"task range with step {step}: {part.strip()[:40]!r}")
        count += max(0, (last - first) // step + 1)
    return bounded(max(count, 1), "task count")


@dataclass
class QueueInstance:
    name: str  # queue@host
    state: str = ""
    slots_used: int = 0
    slots_total: int = 0

    @property
    def host(self) -> str:
        return self.name.split("@", 1)[1] if "@" in self.name else self.name


@dataclass
class QstatResult:
    jobs: list[Job] = field(default_factory=list)
    queues: list[QueueInstance] = field(default_factory=list)
    running_per_host: Counter[str] = field(default_factory=Counter)


def _state(state: str) -> tuple[bool, bool, str, bool]:
    """Runnable, running, the reason it does not run, and whether its tasks count (a
    running array task is one job)."""
    runnable = "h" not in state and "E" not in state
    running = any(letter in state for letter in "rtR") and "q" not in state
    return runnable, running, "" if runnable else f"state {state}", "r" not in state


def _slots(text: str | None) -> int:
    return max(1, whole(text, "qstat slots", default=1))


def _queue(text: str) -> str:
    return text.split("@")[0]


class _JobReader:
    """Jobs from the values of one ``job_list``; each distinct text of a field converted
    once per parse (``Memo``): a queue repeats its states, slots, sizes and stamps."""

    def __init__(self) -> None:
        self.states = Memo(_state)
        self.slots = Memo(_slots)
        self.sizes = Memo(memory_mb)
        self.tasks = Memo(task_count)
        self.limits = Memo(seconds)
        self.stamps = Memo(epoch)
        self.queues = Memo(_queue)

    def job(self, values: dict[str, str], requests: dict[str, str], pe_slots: str | None) -> Job:
        """The job, its ``hosts`` still empty."""
        get = values.get
        runnable, running, reason, counted = self.states[get("state", "")]
        slots = self.slots[get("slots") or pe_slots]
        per_slot = 0
        if requests:
            for name in MEMORY_REQUESTS:
                if name in requests:
                    per_slot = self.sizes[requests[name]]
                    break
        queue = requests.get("q") or get("hard_req_queue")
        tasks = get("tasks")
        limit = requests.get("h_rt")
        return Job(
            id=get("JB_job_number", "?"),
            cores=slots,
            memory_mb=per_slot * slots,
            count=self.tasks[tasks] if tasks is not None and counted else 1,
            walltime_s=self.limits[limit] if limit is not None else None,
            runnable=runnable,
            running=running,
            user=get("JB_owner") or None,
            group=get("JB_group") or None,
            project=get("JB_project") or None,
            queue=self.queues[queue] if queue else None,
            submit_time=self.stamps[get("JB_submission_time")],
            start_time=self.stamps[get("JAT_start_time")],
            reason=reason,
        )


#: the job_list values a job is read from: the others are not kept
_JOB_VALUES = frozenset(
    {
        "JB_job_number",
        "JB_owner",
        "JB_group",
        "JB_project",
        "state",
        "slots",
        "tasks",
        "hard_req_queue",
        "JB_submission_time",
        "JAT_start_time",
        "queue_name",
    }
)
_REQUESTS = frozenset({"hard_request", "soft_request"})
_STARTS = _REQUESTS | {"job_list", "Queue-List"}
_ENDS = _STARTS | {"requested_pe"}
_QUEUE_FIELDS = frozenset({"name", "state", "slots_used", "slots_total"})
Start = Callable[[str, list[str]], None]
End = Callable[[str], None]


def _attribute(attrs: list[str], name: str) -> str:
    """``name``'s value in expat's ordered attributes ``[name, value, name, value, ...]``."""
    names = attrs[::2]
    return attrs[2 * names.index(name) + 1] if name in names else ""


def _qstat_handlers(result: QstatResult, parts: list[str]) -> tuple[Start, End]:
    """Expat's start and end callbacks for ``qstat -xml``, filling ``result``.

    No element objects at all (about twice as fast as ``iterparse``), and as little as
    can be done a callback: ``parts`` is the character data since the last start or
    end (expat appends to it, in C), joined and stripped only for the elements read.
    """
    reader = _JobReader()
    clear, join = parts.clear, "".join
    job_values, starts, ends = _JOB_VALUES, _STARTS, _ENDS
    values: dict[str, str] = {}
    requests: dict[str, str] = {}
    request_name = ""
    pe_slots: str | None = None
    queue: QueueInstance | None = None
    in_job = False

    def start(tag: str, attrs: list[str]) -> None:
        nonlocal values, requests, pe_slots, in_job, queue, request_name
        if parts:  # a test, cheaper than a call, and true only between elements
            clear()
        if tag in starts:
            if tag == "job_list":
                values, requests, pe_slots, in_job = {}, {}, None, True
            elif tag == "Queue-List":
                queue = QueueInstance("")
            else:
                request_name = _attribute(attrs, "name")

    def end(tag: str) -> None:
        nonlocal pe_slots, in_job, queue
        if in_job and tag in job_values:  # the most common: a job's own value
            values[tag] = join(parts).strip()
        elif tag not in ends:
            if not in_job and queue is not None and tag in _QUEUE_FIELDS:
                _set_queue_field(queue, tag, join(parts).strip())
        elif tag == "job_list":
            job = reader.job(values, requests, pe_slots)
            if job.running:
                host = (values.get("queue_name") or (queue.name if queue else "")).split("@")[-1]
                result.running_per_host[host] += 1
                if host:
                    job = replace(job, hosts=(host,))
            result.jobs.append(job)
            in_job = False
        elif tag == "requested_pe":
            pe_slots = join(parts).strip()
        elif tag == "Queue-List":
            if queue is not None:
                result.queues.append(queue)
                queue = None
        else:  # hard_request, soft_request: the first of a name counts
            requests.setdefault(request_name, join(parts).strip())
        clear()

    return start, end


@collector_held
def parse_qstat_xml(data: bytes | str | Iterable[bytes]) -> QstatResult:
    """Jobs (pending and running) and queue instances from ``qstat [-f] -r -ext -urg -xml``:
    the whole output, or its chunks as the command writes them (``CommandRunner.stream``),
    each fed to expat and dropped, so only the jobs are kept."""
    chunks = (
        [data.encode() if isinstance(data, str) else data]
        if isinstance(data, str | bytes)
        else data
    )
    result = QstatResult()
    parts: list[str] = []
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.ordered_attributes = True  # a list, not a dict, for each element's attributes
    parser.StartElementHandler, parser.EndElementHandler = _qstat_handlers(result, parts)
    parser.CharacterDataHandler = parts.append
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise LRMParseError(f"qstat XML is garbled: {exc}") from exc
    return result


def _set_queue_field(queue: QueueInstance, tag: str, text: str) -> None:
    if tag == "name":
        queue.name = text
    elif tag == "state":
        queue.state = text
    elif tag == "slots_used":
        queue.slots_used = whole(text, "qstat slots_used")
    elif tag == "slots_total":
        queue.slots_total = whole(text, "qstat slots_total")


@dataclass(frozen=True)
class QhostHost:
    name: str
    cores: int
    memory_mb: int
    reporting: bool


def parse_qhost_xml(data: bytes | str) -> list[QhostHost]:
    """Execution hosts from ``qhost -xml`` (the ``global`` pseudo-host left out)."""
    raw = data.encode() if isinstance(data, str) else data
    raw = re.sub(rb"^<\?xml version=['\"]2\.0['\"]", b"<?xml version='1.0'", raw)
    hosts: list[QhostHost] = []
    try:
        for _, element in ET.iterparse(io.BytesIO(raw), events=("end",)):  # noqa: S314
            if element.tag != "host":
                continue
            name = element.get("name", "")
            values = {v.get("name"): (v.text or "").strip() for v in element.findall("hostvalue")}
            element.clear()
            if name == "global":
                continue
            cores = values.get("num_proc", "-")
            hosts.append(
                QhostHost(
                    name=name,
                    cores=whole(cores, "qhost num_proc") if cores != "-" else 0,
                    memory_mb=memory_mb(values.get("mem_total", "")),
                    reporting=values.get("load_avg", "-") not in {"", "-"},
                )
            )
    except ET.ParseError as exc:
        raise LRMParseError(f"qhost XML is garbled: {exc}") from exc
    return hosts


def node_state(host: QhostHost, queues: list[QueueInstance], running: int) -> LrmNodeState:
    """One state per host from qhost and the host's queue instances."""
    if not host.reporting or any(_DOWN_LETTERS & set(q.state) for q in queues):
        return LrmNodeState.DOWN
    return lrm_activity(bool(queues) and all("d" in q.state for q in queues), running > 0)


def merge_nodes(hosts: list[QhostHost], qstat: QstatResult) -> tuple[LrmNode, ...]:
    """One node per host from qhost, with every sign of work qstat gives.

    A queue instance's ``slots_used`` and the jobs qstat lists on a host both count
    (a disagreement is busy), also for a host that qhost leaves out; a host with
    queue instances but no qhost entry and no work is UNKNOWN, never absent.
    """
    by_host: dict[str, list[QueueInstance]] = {}
    for queue in qstat.queues:
        by_host.setdefault(queue.host, []).append(queue)
    running: Counter[str] = Counter(qstat.running_per_host)
    for name, queues in by_host.items():
        if any(q.slots_used > 0 for q in queues):
            running[name] = max(running[name], 1)
    nodes = []
    for qhost in hosts:
        jobs = running.get(qhost.name, 0)
        state = node_state(qhost, by_host.get(qhost.name, []), jobs)
        nodes.append(LrmNode(qhost.name, state, qhost.cores, qhost.memory_mb, jobs))
    listed = {h.name for h in hosts}
    for name in sorted(set(by_host) - listed):  # qstat knows it, qhost does not
        jobs = running.get(name, 0)
        disabled = all("d" in q.state for q in by_host[name])
        if not jobs:
            nodes.append(LrmNode(name, LrmNodeState.UNKNOWN))
        else:
            nodes.append(LrmNode(name, lrm_activity(disabled, True), running_jobs=jobs))
        listed.add(name)
    return merge_running(nodes, {h: n for h, n in running.items() if h not in listed})


def _hard_requests(job: ET.Element) -> dict[str, str]:
    """CE_name/CE_stringval pairs, nested per request (SGE) or flat in the list (UGE)."""
    requests: dict[str, str] = {}
    for listing in job.iterfind(".//JB_hard_resource_list"):
        name = ""
        for node in listing.iter():
            if node.tag == "CE_name":
                name = (node.text or "").strip()
            elif node.tag == "CE_stringval" and name:
                requests[name] = (node.text or "").strip()
    return requests


def parse_qstat_j_xml(data: bytes | str) -> list[Job]:
    """Per-job detail from ``qstat -j <ids> -xml``: what ``qstat -r`` does not print, above
    all the job's unix group (``JB_group``), for sites whose VOs are unix groups.

    The output is small (the named jobs only), so it is read whole. A job waiting for a
    predecessor (``JB_jid_predecessor_list``) is not runnable.
    """
    raw = data.encode() if isinstance(data, str) else data
    try:
        root = ET.fromstring(raw)  # noqa: S314 - our own LRM's output
    except ET.ParseError as exc:
        raise LRMParseError(f"qstat -j XML is garbled: {exc}") from exc
    jobs = []
    for element in root.iter():
        number = element.findtext("JB_job_number")
        if number is None:
            continue
        requests = _hard_requests(element)
        slots = whole(
            element.findtext("JB_pe_range/ranges/RN_min")
            or element.findtext(".//JB_pe_range//RN_min"),
            "qstat -j RN_min",
            default=1,
        )
        per_slot = next(
            (memory_mb(requests[r]) for r in ("h_rss", *MEMORY_REQUESTS) if r in requests), 0
        )
        waiting = element.find("JB_jid_predecessor_list") is not None
        jobs.append(
            Job(
                id=number,
                cores=slots,
                memory_mb=per_slot * slots,
                walltime_s=seconds(requests["h_rt"]) if "h_rt" in requests else None,
                runnable=not waiting,
                user=element.findtext("JB_owner") or None,
                group=element.findtext("JB_group") or None,
                project=element.findtext("JB_project") or None,
                queue=element.findtext(".//JB_hard_queue_list//QR_name") or None,
                account=element.findtext("JB_account") or None,
                reason="waiting for a predecessor job" if waiting else "",
            )
        )
    return jobs
