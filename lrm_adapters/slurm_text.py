"""``scontrol show`` text to model objects: the fallback for Slurm releases before JSON.

Layer: pure parsing. ``scontrol -o show jobs|nodes|partitions`` prints one record
per line as ``Key=Value`` tokens (the multi-line form puts a record's tokens on
indented lines, records separated by blank lines); both are read here. A value
never contains a space except in a few free-text fields (``OS=``, ``Reason=``),
whose later words are kept with the value.
"""

from __future__ import annotations

import re
from collections import Counter

from elastic.model import Job, LrmNode
from lrm_adapters._gc import collector_held
from lrm_adapters._memo import Memo
from lrm_adapters._numbers import whole
from lrm_adapters._stream import Text
from lrm_adapters._times import epoch
from lrm_adapters._units import memory_mb
from lrm_adapters.slurm_parse import (
    RUNNING_STATES,
    expand_hostlist,
    node_state,
    states,
)
from lrm_adapters.slurm_reasons import is_demand
from lrm_adapters.slurm_tokens import FieldReader, Record, blocks, iter_records, records

__all__ = ["Record", "iter_records", "parse_scontrol_jobs", "parse_scontrol_nodes", "records"]


def _name(value: str) -> str | None:
    """``alice(1000)`` → ``alice``; ``(null)`` → None."""
    name = value.split("(")[0]
    return name or None


def _limit(text: str) -> int | None:
    match = re.fullmatch(r"(?:(\d+)-)?(\d+):(\d+):(\d+)", text or "")
    if not match:
        return None
    days, hours, minutes, secs = (int(g or 0) for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + secs


def _count(what: str, text: str) -> int:
    """``4`` or a range's least, ``4-8``: the count a job asks for at least."""
    return whole(text.split("-")[0], what, default=1)


def _reason(text: str) -> tuple[str, bool, bool]:
    """The reason code of ``Reason=`` (``None`` when cut short, a job's reason "" then),
    and whether it is demand for a job that names its nodes and for one that does not."""
    code = next(iter(text.split()), "None")
    named, not_named = is_demand(code, named_nodes=True), is_demand(code, named_nodes=False)
    return "" if code == "None" else code, named, not_named


def _size(texts: tuple[str, str, str, str]) -> tuple[int, int, int]:
    """Cores, memory and nodes of ``NumCPUs``, ``NumNodes``, ``MinMemoryNode`` and
    ``MinMemoryCPU``: the memory per node times the nodes, else per CPU times the CPUs."""
    num_cpus, num_nodes, node_mem, cpu_mem = texts
    cpus = _count("scontrol NumCPUs", num_cpus)
    nodes = _count("scontrol NumNodes", num_nodes)
    per_node_mb = memory_mb(node_mem, default_unit="m")
    per_cpu_mb = memory_mb(cpu_mem, default_unit="m")
    return max(cpus, 1), per_node_mb * nodes if per_node_mb else per_cpu_mb * cpus, nodes


def _features(text: str) -> tuple[str, ...]:
    return () if text == "(null)" else tuple(re.split(r"[&|,]", text))


def _hosts(text: str) -> tuple[str, ...]:
    return tuple(expand_hostlist(text))


#: the fields a job is made of, with what a record without one means (``(null)``: none)
JOB_FIELDS = (
    ("JobId", ""),
    ("JobState", ""),
    ("NumCPUs", ""),
    ("NumNodes", ""),
    ("MinMemoryNode", ""),
    ("MinMemoryCPU", ""),
    ("Reason", ""),
    ("TimeLimit", ""),
    ("ReqNodeList", "(null)"),
    ("UserId", ""),
    ("GroupId", ""),
    ("QOS", "(null)"),
    ("Partition", ""),
    ("Account", "(null)"),
    ("Features", "(null)"),
    ("SubmitTime", ""),
    ("StartTime", ""),
    ("NodeList", ""),
)


@collector_held
def parse_scontrol_jobs(text: Text) -> tuple[list[Job], Counter[str]]:
    """Pending and running jobs, and running jobs per node, from ``scontrol -o show jobs``:
    the whole output or its chunks (``CommandRunner.stream``), read a record at a time.

    Each distinct text of a field that repeats across a queue (counts, sizes, limits,
    reasons, users, stamps, node lists) is converted once per call (``Memo``)."""
    jobs: list[Job] = []
    per_node: Counter[str] = Counter()
    reader = FieldReader("JobId", JOB_FIELDS)
    size_of = Memo(_size)
    reason_of = Memo(_reason)
    limit_of = Memo(_limit)
    name_of = Memo(_name)
    features_of = Memo(_features)
    epoch_of = Memo(epoch)  # a missing stamp, "", is None as a missing one is
    hosts_of = Memo(_hosts)
    for block in blocks(text, "JobId"):
        values = reader.values(block)
        if values is None:
            continue
        (job_id, state, num_cpus, num_nodes, node_mem, cpu_mem, reason_text, limit,
         req_nodes, user, group, qos, partition, account, features, submit, start,
         node_list) = values  # fmt: skip
        running = state in RUNNING_STATES
        if state != "PENDING" and not running:
            continue
        cores, memory, nodes = size_of[num_cpus, num_nodes, node_mem, cpu_mem]
        reason, if_named, if_not_named = reason_of[reason_text]
        job = Job(
            id=job_id,
            cores=cores,
            memory_mb=memory,
            nodes=nodes,
            walltime_s=limit_of[limit],
            runnable=if_named if req_nodes != "(null)" else if_not_named,
            running=running,
            user=name_of[user],
            group=name_of[group],
            project=None if qos == "(null)" else qos,
            queue=partition or None,
            account=None if account == "(null)" else account,
            features=features_of[features],
            submit_time=epoch_of[submit],
            start_time=epoch_of[start] if running else None,
            hosts=hosts_of[node_list] if running else (),
            reason=reason,
        )
        jobs.append(job)
        if running:
            per_node.update(job.hosts)
    return jobs, per_node


def parse_scontrol_nodes(text: Text) -> list[LrmNode]:
    nodes = []
    for r in iter_records(text, "NodeName"):
        flags = states(r.get("State", "UNKNOWN").rstrip("*~#"))
        if r.get("State", "").endswith("~"):
            flags.append("POWERED_DOWN")
        busy = whole(r.get("CPUAlloc"), "scontrol CPUAlloc") > 0
        nodes.append(
            LrmNode(
                r["NodeName"],
                node_state(flags),
                whole(r.get("CPUTot"), "scontrol CPUTot"),
                whole(r.get("RealMemory"), "scontrol RealMemory"),
                1 if busy else 0,
            )
        )
    return nodes
