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
from dataclasses import replace
from typing import Any

from elastic.model import Job, LrmNode, LrmNodeState, lrm_activity
from lrm_adapters._json_stream import object_members
from lrm_adapters._numbers import whole
from lrm_adapters._stream import Text, lines
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


def qstat_text_records(text: Text) -> Iterator[Attrs]:
    """``qstat -f`` text: ``Job Id:`` blocks of ``key = value`` lines, from the whole
    output or its chunks as they come (``CommandRunner.stream``): one job held at a time."""
    record: Attrs | None = None
    last = ""
    for line in lines(text):
        if line.startswith("Job Id:"):
            if record is not None:
                yield record
            record, last = {"Job_Id": line.split(":", 1)[1].strip()}, ""
        elif record is not None and line.startswith("\t") and last:
            record[last] += line.strip()  # a value wrapped onto the next line
        elif record is not None and " = " in line:
            key, value = line.split(" = ", 1)  # "key = " with its value cut off: ""
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


def _cores_and_nodes(attrs: Attrs) -> tuple[int, int]:
    select = attrs.get("Resource_List.select", "")
    nodes_spec = attrs.get("Resource_List.nodes", "")
    chunks = 0
    cores = 0
    for spec, key in ((select, "ncpus"), (nodes_spec, "ppn")):
        for chunk in filter(None, spec.split("+")):
            count_text = chunk.split(":")[0]
            count = whole(count_text, "PBS chunk count") if count_text.isdecimal() else 1
            per = re.search(rf"{key}=(\d+)", chunk)
            chunks += count
            cores += count * (whole(per.group(1), f"PBS {key}") if per else 1)
        if chunks:
            break
    ncpus = whole(attrs.get("Resource_List.ncpus"), "Resource_List.ncpus")
    nodect = whole(attrs.get("Resource_List.nodect"), "Resource_List.nodect", default=1)
    return max(cores, ncpus, 1), max(chunks, nodect, 1)


#: what PBS Pro sets when a job names no project: no project, for VO matching
DEFAULT_PROJECT = "_pbs_project_default"


def _project(value: str | None) -> str | None:
    return None if not value or value == DEFAULT_PROJECT else value


def job_from_attrs(attrs: Attrs) -> Job | None:
    """A pending or running Job, or None for finished and array-parent records."""
    state = attrs.get("job_state", "")
    if state not in RUNNING and state != "Q" and state not in NOT_RUNNABLE:
        return None
    cores, nodes = _cores_and_nodes(attrs)
    memory = 0
    for key, scale in (("mem", 1), ("vmem", 1), ("pmem", cores), ("pvmem", cores)):
        if f"Resource_List.{key}" in attrs:
            memory = memory_mb(attrs[f"Resource_List.{key}"]) * scale
            break
    remaining = attrs.get("array_indices_remaining") or attrs.get("job_array_request")
    walltime = attrs.get("Resource_List.walltime")
    owner = attrs.get("Job_Owner", "")
    return Job(
        id=attrs.get("Job_Id", "?").split(".")[0],
        cores=cores,
        memory_mb=memory,
        count=task_count(remaining) if remaining and state not in RUNNING else 1,
        nodes=nodes,
        walltime_s=seconds(walltime) if walltime else None,
        runnable=state == "Q",
        running=state in RUNNING,
        user=attrs.get("euser") or owner.split("@")[0] or None,
        group=attrs.get("egroup") or attrs.get("group_list") or None,
        queue=attrs.get("queue") or None,
        project=_project(attrs.get("project")),
        account=attrs.get("Account_Name") or None,
        submit_time=epoch(attrs.get("qtime") or attrs.get("ctime")),
        # PBS Pro writes stime; Torque start_time
        start_time=epoch(attrs.get("stime") or attrs.get("start_time"))
        if state in RUNNING
        else None,
        reason=NOT_RUNNABLE.get(state, ""),
    )


def parse_jobs(records: Iterator[Attrs]) -> tuple[list[Job], Counter[str]]:
    """Jobs and running jobs per host. Array sub-jobs stand for their parent."""
    jobs: list[Job] = []
    per_host: Counter[str] = Counter()
    for attrs in records:
        job = job_from_attrs(attrs)
        if job is None:
            continue
        if job.running:
            parts = (part.split("/")[0] for part in attrs.get("exec_host", "").split("+"))
            hosts = tuple(sorted({h for h in parts if h}))
            per_host.update(hosts)
            job = replace(job, hosts=hosts)
        jobs.append(job)
    return jobs, per_host


def parse_qstat_json(text: Text) -> tuple[list[Job], Counter[str]]:
    return parse_jobs(qstat_json_records(text))


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
