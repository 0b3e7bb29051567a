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
from collections.abc import Iterator

from elastic.model import Job, LrmNode
from lrm_adapters._numbers import whole
from lrm_adapters._stream import Text, lines
from lrm_adapters._times import epoch
from lrm_adapters._units import memory_mb
from lrm_adapters.base import LRMParseError
from lrm_adapters.slurm_parse import (
    RUNNING_STATES,
    expand_hostlist,
    node_state,
    states,
)
from lrm_adapters.slurm_reasons import is_demand

Record = dict[str, str]
_TOKEN = re.compile(r"(?:^|\s)([A-Za-z][\w:/.]*)=")


def records(text: Text, first_key: str) -> list[Record]:
    """Key=Value records; a new record starts at each ``first_key``."""
    return list(iter_records(text, first_key))


def iter_records(text: Text, first_key: str) -> Iterator[Record]:
    """``records`` one at a time, from the whole text or its chunks as they come.

    A record starts where ``first_key=`` follows the start of the output or whitespace
    (one line in ``-o`` form, several indented lines otherwise); only the lines of the
    record being read are held.
    """
    needle = f"{first_key}="
    block: list[str] = []
    for line in lines([text] if isinstance(text, str) else text):
        cut = 0
        at = line.find(needle)  # str.find, not a regex tried at every position
        while at != -1:
            if at == 0 or line[at - 1].isspace():  # what \s matches; a line's start too
                if at > 0 or block:
                    block.append(line[cut:at])
                    record = _record("\n".join(block), first_key)
                    if record is not None:
                        yield record
                block, cut = [], at
            at = line.find(needle, at + 1)
        block.append(line[cut:])
    record = _record("\n".join(block), first_key)
    if record is not None:
        yield record


def _record(block: str, first_key: str) -> Record | None:
    """One block's Key=Value tokens; None for text before the first record."""
    if f"{first_key}=" not in block:
        return None
    # one split in C: [text before the first key, key, value, key, value, ...]; a key
    # given twice keeps its last value, as before
    parts = _TOKEN.split(block)
    record: Record = dict(zip(parts[1::2], map(str.strip, parts[2::2]), strict=True))
    if first_key not in record:  # "<JobId=…": a record we cannot read, not one fewer
        raise LRMParseError(f"scontrol record without {first_key}: {block[:60]!r}")
    return record


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


def parse_scontrol_jobs(text: Text) -> tuple[list[Job], Counter[str]]:
    """Pending and running jobs, and running jobs per node, from ``scontrol -o show jobs``:
    the whole output or its chunks (``CommandRunner.stream``), read a record at a time."""
    jobs: list[Job] = []
    per_node: Counter[str] = Counter()
    for r in iter_records(text, "JobId"):
        state = r.get("JobState", "")
        running = state in RUNNING_STATES
        if state != "PENDING" and not running:
            continue
        cpus = whole(r.get("NumCPUs", "").split("-")[0], "scontrol NumCPUs", default=1)
        nodes = whole(r.get("NumNodes", "").split("-")[0], "scontrol NumNodes", default=1)
        per_node_mb = memory_mb(r.get("MinMemoryNode", ""), default_unit="m")
        per_cpu_mb = memory_mb(r.get("MinMemoryCPU", ""), default_unit="m")
        reason = next(iter(r.get("Reason", "").split()), "None")  # "Reason=" cut short
        features = r.get("Features", "(null)")
        jobs.append(
            Job(
                id=r["JobId"],
                cores=max(cpus, 1),
                memory_mb=per_node_mb * nodes if per_node_mb else per_cpu_mb * cpus,
                nodes=nodes,
                walltime_s=_limit(r.get("TimeLimit", "")),
                runnable=is_demand(reason, named_nodes=r.get("ReqNodeList", "(null)") != "(null)"),
                running=running,
                user=_name(r.get("UserId", "")),
                group=_name(r.get("GroupId", "")),
                project=None if r.get("QOS") in {None, "(null)"} else r["QOS"],
                queue=r.get("Partition") or None,
                account=None if r.get("Account") in {None, "(null)"} else r["Account"],
                features=() if features == "(null)" else tuple(re.split(r"[&|,]", features)),
                submit_time=epoch(r.get("SubmitTime")),
                start_time=epoch(r.get("StartTime")) if running else None,
                hosts=tuple(expand_hostlist(r.get("NodeList", ""))) if running else (),
                reason="" if reason == "None" else reason,
            )
        )
        if running:
            per_node.update(jobs[-1].hosts)
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
