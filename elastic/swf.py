"""Standard Workload Format (Parallel Workloads Archive) traces, read into jobs.

Layer: pure parsing plus one file read. SWF has 18 whitespace-separated
fields per job, ``;`` header comments and -1 for "unknown". Gzipped traces are
read as they are shipped. Jobs keep user, group and queue numbers as strings
(``user=12``) so that site.yaml ``match`` rules can map them to VOs.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from elastic.model import Job

FIELDS = 18


@dataclass(frozen=True)
class SwfJob:
    job: Job  # submit_time is seconds from the trace start
    runtime_s: float
    wait_s: float  # as recorded in the trace (-1 when unknown)
    status: int


def parse_swf_line(line: str) -> SwfJob | None:
    """One record, or None for a comment, a blank line or an unusable record."""
    text = line.strip()
    if not text or text.startswith(";"):
        return None
    parts = text.split()
    if len(parts) < FIELDS:
        raise ValueError(f"SWF record has {len(parts)} fields, expected {FIELDS}: {text[:80]}")
    number, submit, wait, runtime = parts[0], float(parts[1]), float(parts[2]), float(parts[3])
    allocated, requested = int(float(parts[4])), int(float(parts[7]))
    cores = requested if requested > 0 else allocated
    if cores <= 0 or runtime < 0:
        return None
    memory_kb = float(parts[9]) if float(parts[9]) > 0 else float(parts[6])
    memory_mb = int(memory_kb * cores / 1024) if memory_kb > 0 else 0
    walltime = int(float(parts[8])) if float(parts[8]) > 0 else None
    job = Job(
        id=number,
        cores=cores,
        memory_mb=memory_mb,
        walltime_s=walltime,
        user=parts[11],
        group=parts[12],
        queue=parts[14],
        submit_time=submit,
    )
    return SwfJob(job, runtime, wait, int(float(parts[10])))


def parse_swf(lines: Iterable[str]) -> Iterator[SwfJob]:
    for number, line in enumerate(lines, 1):
        try:
            record = parse_swf_line(line)
        except ValueError as exc:
            raise ValueError(f"line {number}: {exc}") from exc
        if record is not None:
            yield record


def read_swf(path: Path) -> list[SwfJob]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(parse_swf(handle))
