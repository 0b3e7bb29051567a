"""Cloud workers sized to their jobs: which instance type each new EC2 worker gets.

Layer: pure (imports elastic.config only). A VO's
flavor is one size for every worker; on EC2 that either leaves cores unused (32-core
workers for 4-core jobs) or, priced as a smaller type, is a lie to the LRM. With
``ec2.worker_sizing: jobs`` the cloud part of a VO's demand, as per-host shapes
(cores, memory), is packed onto workers one at a time: each worker is opened for the
largest job share still left (so a 32-core job always gets a type of >= 32 vCPUs) and
gets the allowed type whose hourly price per core its jobs actually use is lowest; ties
go to the smaller worker (a worker is retired only once its last job ends, so one large
worker held by one long job bills cores that several small ones would have released),
then to the type listed first; the last two workers become one when a type holds both
for less. A type too small for a share is never a candidate for it. Each worker comes
back with its figures and a one-line why.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from elastic.config import Ec2Config

#: a job's share of one host: (cores, memory in MiB)
Shape = tuple[int, int]


@dataclass(frozen=True)
class SizedType:
    """An instance type the VO may use, with its AWS size and its hourly price."""

    name: str
    vcpus: int
    memory_mb: int
    hourly_cost: float

    def fits(self, shape: Shape) -> bool:
        return shape[0] <= self.vcpus and shape[1] <= self.memory_mb


@dataclass(frozen=True)
class SizedWorker:
    """One cloud worker to boot: its type and the job shares it was sized for."""

    instance_type: SizedType
    jobs: int
    cores_used: int
    memory_mb_used: int

    @property
    def cost_per_core_hour(self) -> float:
        """The type's hourly price over the cores its jobs use: what sizing minimises."""
        return self.instance_type.hourly_cost / max(1, self.cores_used)

    def why(self) -> str:
        kind = self.instance_type
        return (
            f"{kind.name} ({kind.vcpus} vCPUs, {kind.memory_mb} MB) sized to {self.jobs} "
            f"pending job(s) using {self.cores_used} cores: "
            f"${self.cost_per_core_hour:.4f} per core-hour used"
        )


@dataclass(frozen=True)
class Sizing:
    """The workers chosen; the shares no allowed type can carry, and those left for
    want of workers (``max_workers``), both left pending."""

    workers: tuple[SizedWorker, ...]
    unfit: dict[Shape, int]
    left: dict[Shape, int] = field(default_factory=dict)


def sized_types(ec2: Ec2Config, names: Iterable[str]) -> list[SizedType]:
    """The named types with their size and price, in the order listed; a type without
    either (which the site's validation refuses) is left out rather than guessed."""
    types = []
    for name in names:
        size = ec2.size_of(name)
        if size is not None and name in ec2.prices:
            types.append(SizedType(name, size.vcpus, size.memory_mb, ec2.prices[name]))
    return types


def _largest_first(shapes: dict[Shape, int]) -> list[Shape]:
    return sorted((s for s, n in shapes.items() if n > 0), reverse=True)


def _fill(shapes: dict[Shape, int], cores: int, memory_mb: int) -> dict[Shape, int]:
    """How many shares of each shape one room of ``cores``/``memory_mb`` holds, largest
    shares first (first-fit decreasing, within one room)."""
    held: dict[Shape, int] = {}
    for shape in _largest_first(shapes):
        by_cores = cores // shape[0] if shape[0] > 0 else shapes[shape]
        by_memory = memory_mb // shape[1] if shape[1] > 0 else shapes[shape]
        count = min(shapes[shape], by_cores, by_memory)
        if count > 0:
            held[shape] = count
            cores -= count * shape[0]
            memory_mb -= count * shape[1]
    return held


def _minus(shapes: dict[Shape, int], held: dict[Shape, int]) -> dict[Shape, int]:
    left = dict(shapes)
    for shape, count in held.items():
        left[shape] -= count
    return {s: n for s, n in left.items() if n > 0}


def uncovered(shapes: dict[Shape, int], rooms: Iterable[Shape]) -> dict[Shape, int]:
    """The job shares that the given rooms (idle and booting workers, workers placed this
    pass, each as its cores and memory) do not hold: what is left for new cloud workers."""
    left = {s: n for s, n in shapes.items() if n > 0}
    for cores, memory_mb in rooms:
        if not left:
            break
        left = _minus(left, _fill(left, cores, memory_mb))
    return left


def first_workers_worth(
    shapes: dict[Shape, int], workers: int, cores: int, memory_mb: int
) -> dict[Shape, int]:
    """The largest shares first, as many as ``workers`` workers of the flavor would hold
    (each share counted by the larger of its core and memory fractions): the planner's
    limits and holds are counted in flavor workers, and sizing must not rent more."""
    budget = float(workers)
    taken: dict[Shape, int] = {}
    for shape in _largest_first(shapes):
        fraction = max(shape[0] / cores, shape[1] / memory_mb if memory_mb else 0.0)
        if fraction <= 0:
            count = shapes[shape]
        else:
            count = min(shapes[shape], math.floor(budget / fraction + 1e-9))
        if count > 0:
            taken[shape] = count
            budget -= count * fraction
    return taken


def _candidate(
    kind: SizedType, opener: Shape, shapes: dict[Shape, int]
) -> tuple[SizedWorker, dict[Shape, int]]:
    """``kind`` opened for one ``opener`` share, then filled with what else fits; the
    worker and the shares it holds."""
    rest = dict(shapes)
    rest[opener] -= 1
    held = _fill(rest, kind.vcpus - opener[0], kind.memory_mb - opener[1])
    held[opener] = held.get(opener, 0) + 1
    worker = SizedWorker(
        kind,
        jobs=sum(held.values()),
        cores_used=sum(s[0] * n for s, n in held.items()),
        memory_mb_used=sum(s[1] * n for s, n in held.items()),
    )
    return worker, held


def choose_workers(
    shapes: dict[Shape, int], types: Sequence[SizedType], max_workers: int
) -> Sizing:
    """At most ``max_workers`` workers for ``shapes``, each of the type with the least
    cost per core-hour its jobs use; shares no type fits are returned as ``unfit``."""
    left = {s: n for s, n in shapes.items() if n > 0}
    unfit = {s: n for s, n in left.items() if not any(t.fits(s) for t in types)}
    left = _minus(left, unfit)
    workers: list[SizedWorker] = []
    while left and len(workers) < max_workers:
        opener = _largest_first(left)[0]
        best: tuple[float, int, int] | None = None
        chosen: tuple[SizedWorker, dict[Shape, int]] | None = None
        for order, kind in enumerate(types):
            if not kind.fits(opener):
                continue
            worker, held = _candidate(kind, opener, left)
            key = (round(worker.cost_per_core_hour, 9), worker.cores_used, order)
            if best is None or key < best:
                best, chosen = key, (worker, held)
        assert chosen is not None  # ``opener`` fits some type: the unfit were taken out
        workers.append(chosen[0])
        left = _minus(left, chosen[1])
    if left:  # stopped for want of workers: a merge would leave one of them unused
        return Sizing(tuple(workers), unfit, left)
    return Sizing(_merge_tail(workers, types), unfit, left)


def _merge_tail(workers: list[SizedWorker], types: Sequence[SizedType]) -> tuple[SizedWorker, ...]:
    """One worker for the last two when a type holds both for less than the two cost.

    Greedy by cost per core leaves the end of a queue on a mostly empty worker: 36
    one-core jobs on two c6i.8xlarge (32 + 4 used, $2.72) where one c5.9xlarge ($1.53)
    holds them all. A VM's cores and memory are fungible, so a type holds the two when
    it has their total of each."""
    while len(workers) >= 2:
        a, b = workers[-2], workers[-1]
        cores, memory_mb = a.cores_used + b.cores_used, a.memory_mb_used + b.memory_mb_used
        price = a.instance_type.hourly_cost + b.instance_type.hourly_cost
        holders = [t for t in types if t.vcpus >= cores and t.memory_mb >= memory_mb]
        best = min(holders, key=lambda t: (t.hourly_cost, t.vcpus), default=None)
        if best is None or best.hourly_cost >= price - 1e-9:
            break
        workers[-2:] = [SizedWorker(best, a.jobs + b.jobs, cores, memory_mb)]
    return tuple(workers)


def flavor_type(types: Sequence[SizedType], cores: int, memory_mb: int) -> SizedType | None:
    """The first listed type that carries a worker of the flavor (``cores``/``memory_mb``):
    for a reservation's workers, a ``min_nodes`` floor, or every worker of a site whose
    ``worker_sizing`` is ``flavor`` (whose types all carry it, by validation)."""
    return next((t for t in types if t.fits((cores, memory_mb))), None)
