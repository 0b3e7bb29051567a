"""Pending jobs to worker nodes: how many nodes of its flavor each VO needs.

Layer: pure. Jobs are grouped by shape (cores and
memory per host) so that 100k array tasks cost one dictionary entry, not 100k
objects. Each shape fills whole nodes first; the leftovers of all shapes share
nodes by the larger of their core and memory fractions. That is the fluid
bound rounded up: it can be off by a node when shapes fragment badly, which
the next pass corrects because the LRM keeps the unplaced jobs pending.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from elastic.config import Site, VoConfig
from elastic.model import Job, Unplaceable


@dataclass
class VoDemand:
    """What one VO's pending jobs need this pass."""

    vo: str
    pending_jobs: int = 0  # job instances (array tasks counted), runnable only
    nodes_needed: int = 0
    shapes: dict[tuple[int, int], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Demand:
    by_vo: dict[str, VoDemand]
    unplaceable: tuple[Unplaceable, ...]


def too_big(cores_per_node: int, memory_mb_per_node: int, vo: VoConfig) -> str | None:
    """Why one host's share of a job does not fit a worker of the VO's flavor, or None."""
    if cores_per_node > vo.flavor.cores:
        return f"needs {cores_per_node} cores per host; VO {vo.name} flavor has {vo.flavor.cores}"
    if memory_mb_per_node > vo.flavor.memory_mb:
        return (
            f"needs {memory_mb_per_node} MB per host; VO {vo.name} flavor has "
            f"{vo.flavor.memory_mb} MB"
        )
    return None


def nodes_for_shapes(shapes: dict[tuple[int, int], int], cores: int, memory_mb: int) -> int:
    """Nodes of ``cores``/``memory_mb`` that hold every instance of every shape.

    Written as a plain loop with no calls per shape: a million-job queue of 100 VOs
    brings about 100k shapes through it every pass.
    """
    full_nodes = 0
    leftover = 0.0
    for (shape_cores, shape_memory), instances in shapes.items():
        by_cores = cores // (shape_cores if shape_cores > 1 else 1)
        by_memory = memory_mb // shape_memory if shape_memory > 0 else by_cores
        per_node = by_cores if by_cores < by_memory else by_memory
        if per_node < 1:
            per_node = 1
        full, rest = divmod(instances, per_node)
        full_nodes += full
        if rest:  # adding 0.0 changes nothing: the sum is the same to the last bit
            leftover += rest * max(shape_cores / cores, shape_memory / memory_mb)
    return full_nodes + math.ceil(leftover - 1e-9)


def compute_demand(jobs: Iterable[Job], site: Site) -> Demand:
    """Per-VO node demand from the pending, runnable jobs; the rest reported.

    Each job costs a few attribute reads and one dictionary update: a shape is checked
    against the VO's flavor (``too_big``) once, when the VO first meets it, since every
    shape in a VO's table is one that fits.
    """
    vos = {vo.name: vo for vo in site.vos}
    by_vo = {name: VoDemand(name) for name in vos}
    shapes: dict[str, dict[tuple[int, int], int]] = {}
    pending: dict[str, int] = {}
    unplaceable: list[Unplaceable] = []
    for job in jobs:
        if job.running or not job.runnable:
            continue
        vo = vos.get(job.vo) if job.vo is not None else None
        if vo is None:
            unplaceable.append(Unplaceable(job.id, job.vo, "matches no VO in site.yaml", job.count))
            continue
        nodes = job.nodes if job.nodes > 1 else 1
        key = (-(-job.cores // nodes), -(-job.memory_mb // nodes))  # Job.cores_per_node, ...
        vo_shapes = shapes.get(vo.name)
        if vo_shapes is not None and key in vo_shapes:
            vo_shapes[key] += job.count * nodes
        else:
            problem = too_big(key[0], key[1], vo)
            if problem is not None:
                unplaceable.append(Unplaceable(job.id, vo.name, problem, job.count))
                continue
            if vo_shapes is None:
                vo_shapes = shapes[vo.name] = {}
            vo_shapes[key] = job.count * nodes
        pending[vo.name] = pending.get(vo.name, 0) + job.count
    for name, vo_shapes in shapes.items():
        flavor = vos[name].flavor
        by_vo[name].pending_jobs = pending[name]
        by_vo[name].shapes = vo_shapes
        by_vo[name].nodes_needed = nodes_for_shapes(vo_shapes, flavor.cores, flavor.memory_mb)
    return Demand(by_vo, tuple(unplaceable))


def freeing_cores(jobs: Iterable[Job], now: float, horizon: float) -> dict[str, int]:
    """Per VO, cores of running jobs whose walltime ends within ``horizon``.

    A walltime is a limit the LRM enforces, so these cores are free for certain
    by then; a cloud worker requested now would not be taking work any sooner.
    """
    freeing: dict[str, int] = defaultdict(int)
    for job in jobs:
        if not job.running or job.vo is None or job.walltime_s is None or job.start_time is None:
            continue
        if now < job.start_time + job.walltime_s <= now + horizon:  # past it: not enforced
            freeing[job.vo] += job.cores * job.count
    return freeing


def aged(jobs: Sequence[Job], now: float, after: int) -> list[Job]:
    """Jobs pending at least ``after`` seconds (or of unknown age), which may burst."""
    return [j for j in jobs if j.submit_time is None or now - j.submit_time >= after]


def oldest_young_age(jobs: Iterable[Job], vo: str, now: float, after: int) -> float:
    """How long the VO's oldest pending job that may not burst yet has waited."""
    ages = [
        now - j.submit_time
        for j in jobs
        if j.vo == vo
        and not j.running
        and j.runnable
        and j.submit_time is not None
        and now - j.submit_time < after
    ]
    return max(ages, default=0.0)
