"""PBS output (Torque and OpenPBS/PBS Pro) to model objects: pure parsers.

Layer: pure parsing. Every format is first flattened to one attribute map per
job or node (``Resource_List.nodes`` style keys), so the meaning of the
attributes is decided once: ``qstat -f`` text (with tab-indented continuation
lines), Torque's ``qstat -x`` and ``pbsnodes -x`` XML (read with iterparse), and
OpenPBS's ``qstat -f -F json`` / ``pbsnodes -av -F json``.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from typing import Any

from elastic.model import Job, LrmNode, LrmNodeState, lrm_activity
from lrm_adapters._gc import collector_held
from lrm_adapters._json_stream import object_members
from lrm_adapters._memo import Memo
from lrm_adapters._numbers import whole
from lrm_adapters._stream import Text
from lrm_adapters._times import epoch
from lrm_adapters._units import memory_mb
from lrm_adapters.base import LRMParseError
from lrm_adapters.sge_parse import seconds, task_count

Attrs = dict[str, str]
NOT_RUNNABLE = {"H": "held", "W": "waiting for its start time", "T": "in transit", "S": "suspended"}
RUNNING = {"R", "E", "B"}


def _flatten(prefix: str, value: Any, out: Attrs) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = str(value)


def _line_batches(text: Text) -> Iterator[list[str]]:
    """The lines ``lines`` gives, a list of them at a time (one a chunk): a loop over a
    list costs less than a generator's step for each of the million lines."""
    if isinstance(text, str):
        yield text.splitlines()
        return
    rest = ""
    for chunk in text:
        parts = (rest + chunk).split("\n") if rest else chunk.split("\n")
        rest = parts.pop()
        yield parts
    if rest:
        yield [rest]


def qstat_text_records(text: Text) -> Iterator[Attrs]:
    """``qstat -f`` text: ``Job Id:`` blocks of ``key = value`` lines, from the whole
    output or its chunks as they come (``CommandRunner.stream``): one job held at a time.

    A line starting with a space (``    key = value``, nearly every line) can be neither
    a job's start nor a wrapped value, so it is read first, with one partition."""
    record: Attrs | None = None
    last = ""
    for batch in _line_batches(text):
        for line in batch:
            first = line[:1]  # a slice and a compare: no method call
            if first == " ":
                if record is not None:
                    key, equals, value = line.partition(" = ")  # "key = " cut off: ""
                    if equals:
                        last = key.strip()
                        record[last] = value.strip()
            elif line.startswith("Job Id:"):
                if record is not None:
                    yield record
                record, last = {"Job_Id": line.split(":", 1)[1].strip()}, ""
            elif first == "\t" and record is not None and last:
                record[last] += line.strip()  # a value wrapped onto the next line
            elif record is not None and " = " in line:
                key, value = line.split(" = ", 1)
                record[key.strip()], last = value.strip(), key.strip()
    if record is not None:
        yield record


def _json_table(text: str, what: str, key: str) -> dict[str, Any]:
    """The ``key`` table (job or node id -> attributes) of a PBS ``-F json`` output."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise LRMParseError(f"{what} output is not JSON: {exc}") from exc
    table = data.get(key) if isinstance(data, dict) else None
    if table is None and isinstance(data, dict):
        return {}
    if not isinstance(table, dict) or not all(isinstance(v, dict) for v in table.values()):
        raise LRMParseError(f"{what} output has no {key} table of records")
    return table


def qstat_json_records(text: Text) -> Iterator[Attrs]:
    """``qstat -f -F json``'s Jobs, whole or in chunks as they come: one job held at a time."""
    for job_id, raw in object_members(text, "Jobs", "qstat -F json"):
        if not isinstance(raw, dict):
            raise LRMParseError("qstat -F json output has no Jobs table of records")
        attrs: Attrs = {"Job_Id": job_id}
        _flatten("", raw, attrs)
        yield attrs


def xml_records(data: bytes | str, tag: str) -> Iterator[Attrs]:
    """Torque ``qstat -x`` (tag Job) and ``pbsnodes -x`` (tag Node) records."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        for _, element in ET.iterparse(io.BytesIO(raw), events=("end",)):  # noqa: S314
            if element.tag != tag:
                continue
            attrs: Attrs = {}
            for child in element:
                if len(child):
                    for grandchild in child:
                        attrs[f"{child.tag}.{grandchild.tag}"] = (grandchild.text or "").strip()
                else:
                    attrs[child.tag] = (child.text or "").strip()
            element.clear()
            yield attrs
    except ET.ParseError as exc:
        raise LRMParseError(f"PBS XML is garbled: {exc}") from exc


#: a chunk's cores: ``ncpus=`` in a select chunk, ``ppn=`` in a Torque nodes one
_PER_CHUNK = {"ncpus": re.compile(r"ncpus=(\d+)"), "ppn": re.compile(r"ppn=(\d+)")}


def _cores_and_nodes(
    select: str, nodes_spec: str, ncpus: str | None, nodect: str | None
) -> tuple[int, int]:
    chunks = 0
    cores = 0
    for spec, key in ((select, "ncpus"), (nodes_spec, "ppn")):
        for chunk in filter(None, spec.split("+")):
            count_text = chunk.split(":")[0]
            count = whole(count_text, "PBS chunk count") if count_text.isdecimal() else 1
            per = _PER_CHUNK[key].search(chunk)
            chunks += count
            cores += count * (whole(per.group(1), f"PBS {key}") if per else 1)
        if chunks:
            break
    cpus = whole(ncpus, "Resource_List.ncpus")
    count = whole(nodect, "Resource_List.nodect", default=1)
    return max(cores, cpus, 1), max(chunks, count, 1)


#: what PBS Pro sets when a job names no project: no project, for VO matching
DEFAULT_PROJECT = "_pbs_project_default"
#: the memory requests in the order they are read, and whether each is per core
MEMORY = (
    ("Resource_List.mem", False),
    ("Resource_List.vmem", False),
    ("Resource_List.pmem", True),
    ("Resource_List.pvmem", True),
)


def _project(value: str | None) -> str | None:
    return None if not value or value == DEFAULT_PROJECT else value


def _shape(texts: tuple[str, str, str | None, str | None]) -> tuple[int, int]:
    """Cores and nodes of ``Resource_List`` select, nodes, ncpus and nodect."""
    return _cores_and_nodes(*texts)


def _user(owner: str) -> str | None:
    return owner.split("@")[0] or None


def _hosts(exec_host: str) -> tuple[str, ...]:
    """``n1/0+n1/1+n2/0`` → ``("n1", "n2")``."""
    parts = (part.split("/")[0] for part in exec_host.split("+"))
    return tuple(sorted({h for h in parts if h}))


class _JobBuilder:
    """Jobs from flattened attributes; each distinct text of a field that repeats in a
    queue (resource requests, task ranges, limits, owners, stamps, execution hosts)
    converted once per parse (``Memo``)."""

    def __init__(self) -> None:
        self.shapes = Memo(_shape)
        self.sizes = Memo(memory_mb)
        self.tasks = Memo(task_count)
        self.limits = Memo(seconds)
        self.users = Memo(_user)
        self.stamps = Memo(epoch)
        self.hosts = Memo(_hosts)
        self.projects = Memo(_project)

    def job(self, attrs: Attrs, hosts: bool = True) -> Job | None:
        """The job, with a running job's execution hosts unless not ``hosts``."""
        get = attrs.get
        state = get("job_state", "")
        running = state in RUNNING
        if not running and state != "Q" and state not in NOT_RUNNABLE:
            return None
        cores, nodes = self.shapes[
            get("Resource_List.select", ""),
            get("Resource_List.nodes", ""),
            get("Resource_List.ncpus"),
            get("Resource_List.nodect"),
        ]
        memory = 0
        for key, per_core in MEMORY:
            if key in attrs:
                memory = self.sizes[attrs[key]] * (cores if per_core else 1)
                break
        remaining = get("array_indices_remaining") or get("job_array_request")
        walltime = get("Resource_List.walltime")
        return Job(
            id=get("Job_Id", "?").partition(".")[0],
            cores=cores,
            memory_mb=memory,
            count=self.tasks[remaining] if remaining and not running else 1,
            nodes=nodes,
            walltime_s=self.limits[walltime] if walltime else None,
            runnable=state == "Q",
            running=running,
            user=get("euser") or self.users[get("Job_Owner", "")],
            group=get("egroup") or get("group_list") or None,
            queue=get("queue") or None,
            project=self.projects[get("project")],
            account=get("Account_Name") or None,
            submit_time=self.stamps[get("qtime") or get("ctime")],
            # PBS Pro writes stime; Torque start_time
            start_time=self.stamps[get("stime") or get("start_time")] if running else None,
            hosts=self.hosts[get("exec_host", "")] if running and hosts else (),
            reason=NOT_RUNNABLE.get(state, ""),
        )


def job_from_attrs(attrs: Attrs) -> Job | None:
    """A pending or running Job, or None for finished and array-parent records; its
    execution hosts are ``parse_jobs``' to read."""
    return _JobBuilder().job(attrs, hosts=False)


def parse_jobs(records: Iterator[Attrs]) -> tuple[list[Job], Counter[str]]:
    """Jobs and running jobs per host. Array sub-jobs stand for their parent."""
    jobs: list[Job] = []
    per_host: Counter[str] = Counter()
    builder = _JobBuilder()
    for attrs in records:
        job = builder.job(attrs)
        if job is None:
            continue
        if job.running:
            per_host.update(job.hosts)
        jobs.append(job)
    return jobs, per_host


@collector_held
def parse_qstat_json(text: Text) -> tuple[list[Job], Counter[str]]:
    return parse_jobs(qstat_json_records(text))


@collector_held
def parse_qstat_text(text: Text) -> tuple[list[Job], Counter[str]]:
    return parse_jobs(qstat_text_records(text))


def parse_qstat_xml(data: bytes | str) -> tuple[list[Job], Counter[str]]:
    return parse_jobs(xml_records(data, "Job"))


def node_state(state: str, jobs: int) -> LrmNodeState:
    words = set(state.replace(" ", "").split(","))
    if words & {"down", "state-unknown", "unknown", "stale", "unresolvable"}:
        return LrmNodeState.DOWN
    busy = bool(jobs or words & {"job-exclusive", "job-busy", "busy", "job-sharing"})
    if "offline" in words:
        return lrm_activity(True, jobs > 0)
    if busy or "free" in words:
        return lrm_activity(False, busy)
    return LrmNodeState.UNKNOWN


def node_from_attrs(name: str, attrs: Attrs) -> LrmNode:
    jobs_text = attrs.get("jobs", "")
    jobs = len({j.split("/")[-1].strip() for j in jobs_text.split(",") if j.strip()})
    status = dict(part.split("=", 1) for part in attrs.get("status", "").split(",") if "=" in part)
    cores = attrs.get("resources_available.ncpus") or attrs.get("np") or attrs.get("pcpus") or "0"
    memory = attrs.get("resources_available.mem") or status.get("physmem", "0")
    return LrmNode(
        name,
        node_state(attrs.get("state", ""), jobs),
        whole(cores, "PBS node ncpus"),
        memory_mb(memory),
        jobs,
        vo=None,
    )


def parse_pbsnodes_xml(data: bytes | str) -> list[LrmNode]:
    return [node_from_attrs(a.get("name", "?"), a) for a in xml_records(data, "Node")]


def parse_pbsnodes_json(text: str) -> list[LrmNode]:
    nodes = []
    for name, raw in _json_table(text, "pbsnodes -F json", "nodes").items():
        attrs: Attrs = {}
        _flatten("", {k: v for k, v in raw.items() if k != "jobs"}, attrs)
        jobs = raw.get("jobs", [])
        attrs["jobs"] = ",".join(str(j) for j in jobs) if isinstance(jobs, list) else str(jobs)
        nodes.append(node_from_attrs(name, attrs))
    return nodes
