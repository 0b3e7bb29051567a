"""Workloads for the simulator: seeded synthetic scenarios and SWF traces.

Layer: pure (a seeded ``random.Random``; SWF through ``elastic.swf``). Every
scenario is reproducible from its name and seed, so policies are compared on
exactly the same jobs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from elastic.config import VoConfig
from elastic.swf import read_swf
from elastic.vomatch import vo_of

HOUR = 3600.0
#: memory a job is given per core where the workload says none (the synthetic scenarios,
#: and SWF traces whose fields 7 and 10 are -1, as the NASA iPSC/860 trace's are)
MEMORY_MB_PER_CORE = 1000


@dataclass(frozen=True)
class SimJob:
    id: int
    vo: str
    cores: int
    memory_mb: int
    submit: float
    runtime: float
    walltime: float | None = None  # the limit the user asked for, when the workload has one
    #: workers the job spans; cores and memory_mb are the whole job's, split evenly
    nodes: int = 1

    @property
    def cores_per_node(self) -> int:
        return -(-self.cores // self.nodes)

    @property
    def memory_mb_per_node(self) -> int:
        return -(-self.memory_mb // self.nodes)


#: VO, cores, submit, runtime, walltime, memory MB (0: none given)
Row = tuple[str, int, float, float, float | None, int]


def _jobs(rows: list[Row]) -> list[SimJob]:
    """Jobs in submission order, numbered in that order; MEMORY_MB_PER_CORE where none given."""
    rows.sort(key=lambda r: r[2])
    return [
        SimJob(i, vo, cores, memory or cores * MEMORY_MB_PER_CORE, submit, runtime, walltime)
        for i, (vo, cores, submit, runtime, walltime, memory) in enumerate(rows)
    ]


def _poisson(rng: random.Random, rate_per_s: float, start: float, end: float) -> list[float]:
    times: list[float] = []
    now = start
    while rate_per_s > 0:
        now += rng.expovariate(rate_per_s)
        if now >= end:
            return times
        times.append(now)
    return times


def scenario(name: str, vos: Sequence[str], seed: int = 1, hours: float = 12.0) -> list[SimJob]:
    """A named synthetic workload over ``hours``; ``vos`` in site order (first = largest)."""
    rng = random.Random(seed)
    end = hours * HOUR
    first = vos[0]
    rows: list[tuple[str, int, float, float]] = []
    if name == "step":
        rows += [(first, 4, HOUR, rng.uniform(1800, 5400)) for _ in range(120)]
    elif name == "poisson":
        rows += [(first, 4, t, rng.expovariate(1 / 1800)) for t in _poisson(rng, 1 / 90, 0, end)]
        for burst in (2 * HOUR, 7 * HOUR):
            rows += [
                (first, 4, burst + rng.uniform(0, 300), rng.uniform(1200, 3600)) for _ in range(60)
            ]
    elif name == "flapping":
        for cycle in range(int(hours)):
            rows += [
                (first, 4, cycle * HOUR + rng.uniform(0, 120), rng.uniform(600, 900))
                for _ in range(30)
            ]
    elif name == "diurnal":
        for t in _poisson(rng, 1 / 40, 0, end):
            if rng.random() < 0.5 + 0.5 * math.sin(2 * math.pi * t / (24 * HOUR)):
                rows.append((first, 4, t, rng.expovariate(1 / 2400)))
    elif name == "three-vos":
        weights = [0.5, 0.3, 0.2][: len(vos)]
        for t in _poisson(rng, 1 / 30, 0, end):
            rows.append((rng.choices(list(vos[:3]), weights)[0], 4, t, rng.expovariate(1 / 2400)))
    elif name == "mixed":
        for t in _poisson(rng, 1 / 120, 0, end):
            rows.append((first, rng.choice([1, 8, 32]), t, rng.expovariate(1 / 3600)))
    elif name == "short":
        rows += [(first, 1, t, rng.uniform(20, 120)) for t in _poisson(rng, 1 / 8, 0, end)]
    else:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    return _jobs([(*row, None, 0) for row in rows])  # users of these ask no walltime


SCENARIOS = ("step", "poisson", "flapping", "diurnal", "three-vos", "mixed", "short")


def from_swf(path: Path, vos: Sequence[VoConfig], limit: int | None = None) -> list[SimJob]:
    """An SWF trace; VO by the site's match rules (user/group ids), else round-robin by user."""
    rows: list[Row] = []
    for record in read_swf(path)[:limit]:
        job = record.job
        vo = vo_of(job, vos) or vos[int(job.user or 0) % len(vos)].name
        walltime = float(job.walltime_s) if job.walltime_s else None
        submit, runtime = job.submit_time or 0.0, max(record.runtime_s, 1.0)
        rows.append((vo, job.cores, submit, runtime, walltime, job.memory_mb))
    return _jobs(rows)


def spread(jobs: Sequence[SimJob], vos: Sequence[VoConfig]) -> tuple[list[SimJob], int]:
    """Each job on as many workers of its VO's flavor as it needs, and how many cannot run.

    A job wider than one worker (in cores or memory) spans ``nodes`` workers, its cores
    and memory split evenly, as an MPI job spans hosts of a real LRM; the planner sizes
    its demand by the same per-node shares (``Job.nodes``). A job left out is one that
    no worker count holds: its VO has no room for that many workers (``max_nodes``).
    """
    by_name = {vo.name: vo for vo in vos}
    kept: list[SimJob] = []
    for job in jobs:
        flavor = by_name[job.vo].flavor
        nodes = max(-(-job.cores // flavor.cores), -(-job.memory_mb // flavor.memory_mb), 1)
        if nodes <= by_name[job.vo].max_nodes:
            kept.append(replace(job, nodes=nodes) if nodes != job.nodes else job)
    return kept, len(jobs) - len(kept)
