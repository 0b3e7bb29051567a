"""Offline bounds on the cloud spend, to judge a policy's bill against.

Layer: pure. Two bounds under different assumptions, both reported:

- ``overflow_bound_cost`` is the benchmark's bound, as the project defined it:
  for each job that cannot start locally within its wait, the cheapest cloud
  time it needs. It is the bound for an autoscaler that provisions and leaves
  the order of jobs to the LRM's queue.
- ``fluid_bound_cost`` bounds any policy at all that never lets a job wait: the
  demand above the local cores, moment by moment, as if jobs could move.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from elastic.config import Site
from elastic.sim.workload import SimJob

Running = tuple[float, float, int, str]  # start, end, cores, VO


def _whole_workers(cores: int, worker: int) -> int:
    """The cores of the fewest workers of ``worker`` cores that hold ``cores``."""
    return worker * -(-cores // worker)


def cheapest_core_hour(site: Site) -> float | None:
    """The lowest price of one core-hour among the instance types the VOs may use: a
    worker has its VO's flavor, or with ``worker_sizing: jobs`` its type's vCPUs."""
    ec2 = site.ec2
    if ec2 is None or not ec2.prices:
        return None

    def cores(vo: str, kind: str) -> int:
        size = ec2.size_of(kind)
        if ec2.worker_sizing == "jobs" and size is not None:
            return size.vcpus
        return site.vo(vo).flavor.cores

    return min(
        ec2.prices[t] / cores(vo, t) for vo, types in ec2.instance_types.items() for t in types
    )


def overflow_bound_cost(jobs: Sequence[SimJob], site: Site, wait_s: float) -> float:
    """For each job that cannot start locally within ``wait_s``, its cheapest cloud time.

    Jobs are taken in submission order (the queue's order). Each starts locally
    at the earliest moment within ``wait_s`` of its submission at which there is
    room for it for its whole runtime, given the jobs placed before it; a job may
    start in a gap ahead of earlier ones (backfill). Room is counted as the fluid
    bound counts it: a VO's local jobs need whole workers of its flavor, and
    those workers' cores must fit in the local cores, with jobs packed perfectly
    into them and workers handed between VOs the moment they empty; all of which
    favours local starts. A job that finds no room is charged runtime × cores at
    the cheapest price per core: no boot, no idle, perfect packing, per-second
    billing.
    """
    per_core_h = cheapest_core_hour(site)
    if per_core_h is None:
        return 0.0
    local = sum(h.cores - h.reserved_cores for h in site.local.hosts)
    flavor = {vo.name: vo.flavor.cores for vo in site.vos}
    placed: list[Running] = []
    cloud_core_s = 0.0
    for job in sorted(jobs, key=lambda j: (j.submit, j.id)):
        placed = [r for r in placed if r[1] > job.submit]
        start = _earliest_start(placed, job, flavor, local, wait_s)
        if start is None:
            cloud_core_s += job.runtime * job.cores
        else:
            placed.append((start, start + job.runtime, job.cores, job.vo))
    return cloud_core_s / 3600 * per_core_h


def _earliest_start(
    placed: list[Running], job: SimJob, flavor: dict[str, int], local: int, wait_s: float
) -> float | None:
    latest = job.submit + wait_s
    frees = {end for _, end, _, _ in placed if job.submit < end <= latest}
    for start in sorted({job.submit, *frees}):
        if _fits(placed, job, start, flavor, local):
            return start
    return None


def _fits(
    placed: list[Running], job: SimJob, begin: float, flavor: dict[str, int], local: int
) -> bool:
    """Whether the job's workers fit beside the others' throughout [begin, begin + runtime):
    checked at ``begin`` and wherever a placed job starts inside, where use only grows."""
    end = begin + job.runtime
    for x in [begin, *(s for s, _, _, _ in placed if begin < s < end)]:
        use: dict[str, int] = defaultdict(int)
        use[job.vo] += job.cores
        for s, e, cores, vo in placed:
            if s <= x < e:
                use[vo] += cores
        if sum(_whole_workers(cores, flavor[v]) for v, cores in use.items()) > local:
            return False
    return True


def fluid_bound_cost(jobs: Sequence[SimJob], site: Site) -> float:
    """Offline bound on the cloud spend of serving every job without queueing.

    If every job started at its submission, VO v would run D_v(t) cores of jobs at
    once, on workers of its own flavor (c_v cores): at least ceil(D_v(t) / c_v)
    of them. Those worker cores above the local cores L must be in the cloud, so
    the spend is at least the integral of max(0, sum_v c_v * ceil(D_v(t) / c_v) - L),
    priced at the cheapest price per core the site lists, with jobs packed
    perfectly into workers, no boot time and per-second billing. A policy that
    lets jobs wait can spend less than this; one that spends more pays for idle,
    boot time or fragmentation beyond whole workers.
    """
    per_core_h = cheapest_core_hour(site)
    if per_core_h is None:
        return 0.0
    flavor = {vo.name: vo.flavor.cores for vo in site.vos}
    local = sum(h.cores - h.reserved_cores for h in site.local.hosts)
    events = sorted(
        [(j.submit, j.cores, j.vo) for j in jobs]
        + [(j.submit + j.runtime, -j.cores, j.vo) for j in jobs]
    )
    level: dict[str, int] = defaultdict(int)
    workers_cores = 0  # sum over VOs of c_v * ceil(D_v / c_v)
    excess_core_s = 0.0
    last = 0.0
    for time, delta, vo in events:
        excess_core_s += max(0, workers_cores - local) * (time - last)
        workers_cores -= _whole_workers(level[vo], flavor[vo])
        level[vo] += delta
        workers_cores += _whole_workers(level[vo], flavor[vo])
        last = time
    return excess_core_s / 3600 * per_core_h
