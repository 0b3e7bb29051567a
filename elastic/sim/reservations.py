"""Advance reservations in the simulator: a seeded generator, three ways to serve them, and
how many reserved nodes were up by the start.

Layer: pure simulation. ``generate`` books reservations of 8-64 workers of a VO, each made
1-6 hours before its start, over the workload's span (Haizea's advance-reservation
leases); the best-effort queue is the workload itself. Three policies serve them, all
elastic's planner, differing only in when a reservation is due:

- ``elastic``: from the start minus the lead (the measured boot p95 + registration +
  margin), with the room set aside ``hold_ahead_s`` before;
- ``boot-at-start``: at the start (lead 0, nothing set aside): what Slurm does for
  CLOUD nodes, powering them up only when the reservation's jobs are allocated;
- ``hold-all-day``: from the moment it is made (its room held and its nodes up all along).

``measure`` reads, for each reservation, the VO's workers up at its start (the VO's due
reservations share its nodes, earliest first), the time its last node came, and what the
best-effort jobs waited and the cloud cost.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from elastic.config import Site
from elastic.model import Observation, Plan, Reservation
from elastic.planning import plan
from elastic.sim.engine import Policy, SimConfig, SimResult, Simulation
from elastic.sim.metrics import compute, percentile
from elastic.sim.workload import SimJob

HOUR = 3600.0
POLICIES = ("elastic", "boot-at-start", "hold-all-day")


def generate(
    site: Site, span_s: float, count: int, seed: int, sizes: tuple[int, int] = (8, 64)
) -> list[Reservation]:
    """``count`` reservations over ``span_s``: a VO drawn by share, 8-64 nodes, made 1-6 h
    ahead of a start in the span, lasting 1-3 h."""
    rng = random.Random(seed)
    vos = site.vos
    weights = [vo.share for vo in vos]
    booked = []
    for n in range(count):
        vo = rng.choices(vos, weights)[0]
        start = rng.uniform(6 * HOUR, max(6 * HOUR + 1, span_s))
        ahead = rng.uniform(1 * HOUR, 6 * HOUR)
        nodes = rng.randint(*sizes)
        booked.append(
            Reservation(
                f"r-{n + 1}",
                vo.name,
                nodes,
                start,
                start + rng.uniform(1 * HOUR, 3 * HOUR),
                created_at=start - ahead,
            )
        )
    return sorted(booked, key=lambda r: r.start)


def policy_for(name: str, site: Site) -> tuple[Site, Policy]:
    """The site and policy that serve reservations the ``name`` way."""
    config = site.reservations
    if name == "elastic":
        return site, plan
    if name == "boot-at-start":
        zero = {"libvirt": 0, "ec2": 0}
        at_start = config.model_copy(
            update={"boot_estimate_s": zero, "register_s": 0, "margin_s": 0, "hold_ahead_s": 0}
        )

        def boot_at_start(observation: Observation, s: Site, now: float) -> Plan:
            return plan(replace(observation, boot_p95_s={}), s, now)

        return site.model_copy(update={"reservations": at_start}), boot_at_start
    if name == "hold-all-day":
        all_day = config.model_copy(update={"margin_s": 10**9})
        return site.model_copy(update={"reservations": all_day}), plan
    raise ValueError(f"unknown reservation policy {name!r}; known: {', '.join(POLICIES)}")


@dataclass(frozen=True)
class Outcome:
    policy: str
    reservations: int
    reserved_nodes: int
    #: reserved nodes up by their reservation's start, over all reserved nodes
    on_time: float
    #: mean seconds after the start until a reservation had all its nodes (0 when on time)
    mean_late_s: float
    worst_late_s: float
    mean_wait_s: float
    p95_wait_s: float
    cloud_cost: float
    unfinished: int


def _up(result: SimResult, vo: str, at: float) -> int:
    return sum(
        1
        for n in result.nodes
        if n.spec.vo == vo and n.ready_at <= at and (n.destroyed is None or n.destroyed > at)
    )


def _needed(reservations: Sequence[Reservation], r: Reservation, at: float) -> int:
    """Nodes of r's VO that its reservations running at ``at`` hold, up to r (earliest
    first): r's nodes are the last of them."""
    return sum(
        o.nodes
        for o in reservations
        if o.vo == r.vo and o.start <= at < o.end and (o.start, o.id) <= (r.start, r.id)
    )


def measure(
    name: str,
    result: SimResult,
    reservations: Sequence[Reservation],
    site: Site,
    config: SimConfig,
) -> Outcome:
    reserved = sum(r.nodes for r in reservations)
    ready = 0
    lateness: list[float] = []
    for r in reservations:
        need = _needed(reservations, r, r.start)
        up = _up(result, r.vo, r.start)
        ready += max(0, min(r.nodes, r.nodes - (need - up)))
        late = 0.0
        if up < need:
            times = sorted(
                n.ready_at
                for n in result.nodes
                if n.spec.vo == r.vo and r.start < n.ready_at < r.end
            )
            late = next(
                (t - r.start for t in times if _up(result, r.vo, t) >= _needed(reservations, r, t)),
                r.end - r.start,
            )
        lateness.append(late)
    metrics = compute(result, site, config)
    waits = [j.start - j.job.submit for j in result.jobs if j.start is not None]
    return Outcome(
        name,
        len(reservations),
        reserved,
        ready / reserved if reserved else 1.0,
        sum(lateness) / len(lateness) if lateness else 0.0,
        max(lateness, default=0.0),
        sum(waits) / len(waits) if waits else 0.0,
        percentile(waits, 0.95) if waits else 0.0,
        metrics.cloud_cost,
        result.unfinished,
    )


def run(
    name: str,
    site: Site,
    jobs: Sequence[SimJob],
    reservations: Sequence[Reservation],
    config: SimConfig,
) -> Outcome:
    served_site, policy = policy_for(name, site)
    simulation = Simulation(served_site, jobs, policy, config, reservations)
    horizon = max([r.end for r in reservations] + [j.submit for j in jobs] + [0.0]) + 2 * HOUR
    result = simulation.run(name, horizon=horizon)
    return measure(name, result, reservations, served_site, config)
