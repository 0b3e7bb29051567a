"""Advance reservations: lead time, when one is due, the floor it sets, admission, status.

Layer: pure (model and config only). A reservation asks for ``nodes`` workers of a VO
up in the LRM from ``start`` to ``end``. Haizea scheduled the overhead of deploying a
VM (its image transfer) into the latest slot that still ended before a lease's start;
elastic stages no images, so the overhead to schedule is the boot itself: a
reservation is *due* from ``start - lead``, lead being the provider's measured
boot-to-ready time plus the LRM's registration and a margin. While due, the
reservation raises the VO's floor (as ``min_nodes`` does), so its nodes are booted
ahead and kept until the end; after the end they are ordinary idle workers again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from elastic.config import Site, VoConfig
from elastic.model import (
    OPEN_RESERVATION_STATES,
    Job,
    NodeState,
    Observation,
    ProviderKind,
    Reservation,
    ReservationState,
    WorkerNode,
)
from elastic.planning.thresholds import boot_time


def p95_nearest_rank(values: Sequence[float]) -> float:
    """The boot-time p95 the lead is planned on: the nearest rank, a value really seen."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def lead_s(site: Site, boot_p95_s: dict[ProviderKind, float], provider: ProviderKind) -> float:
    """Seconds before a start at which a node of ``provider`` must be asked for: the boot
    time the thresholds are derived from too (measured p95, else the estimate)."""
    config = site.reservations
    return boot_time(site, boot_p95_s, provider).seconds + config.register_s + config.margin_s


def reservation_lead_s(
    site: Site, boot_p95_s: dict[ProviderKind, float], reservation: Reservation
) -> float:
    """The lead of the slowest provider the reservation may use: local first, EC2 when
    it may burst."""
    providers = [ProviderKind.LIBVIRT]
    if reservation.burst and site.ec2 is not None:
        providers.append(ProviderKind.EC2)
    return max(lead_s(site, boot_p95_s, p) for p in providers)


def is_due(site: Site, observation: Observation, reservation: Reservation, now: float) -> bool:
    """Inside its lead time or running: its nodes are booted and kept."""
    if reservation.state not in OPEN_RESERVATION_STATES or now >= reservation.end:
        return False
    return now >= reservation.start - reservation_lead_s(site, observation.boot_p95_s, reservation)


def due_at(site: Site, observation: Observation, reservation: Reservation) -> float:
    """When the reservation's first boot must be asked for: its start less the lead."""
    return reservation.start - reservation_lead_s(site, observation.boot_p95_s, reservation)


def job_horizons(site: Site, jobs: Iterable[Job]) -> dict[str, float]:
    """Per VO, how long a queue job starting now on one of its workers may run: the
    longest walltime among its pending and running jobs, ``drain_ahead_s`` for a job
    without one (the LRM bounds it by nothing elastic can read); no entry for a VO
    without jobs, whose workers start nothing."""
    cap = float(site.reservations.drain_ahead_s)
    horizons: dict[str, float] = {}
    for job in jobs:
        if job.vo is None or (not job.running and not job.runnable):
            continue
        span = cap if job.walltime_s is None else min(cap, float(job.walltime_s))
        if span > horizons.get(job.vo, -1.0):
            horizons[job.vo] = span
    return horizons


def may_overrun(horizon_s: float | None, now: float, due: float) -> bool:
    """Whether a queue job that starts now, bounded by ``horizon_s``, may still run at
    ``due``: from then on a worker of that VO on the reservation's room is drained."""
    return horizon_s is not None and now + horizon_s > due


def is_held(
    site: Site,
    observation: Observation,
    reservation: Reservation,
    now: float,
    horizons: dict[str, float] | None = None,
) -> bool:
    """Before its lead time, its local room is kept free of new queue boots: within
    ``hold_ahead_s`` of it, so that idle workers on it time out and leave in time, and
    from when a queue job of another VO starting now could run past it (``horizons``),
    so that room freed by draining ahead is not filled again."""
    if reservation.state not in OPEN_RESERVATION_STATES or is_due(
        site, observation, reservation, now
    ):
        return False
    due = due_at(site, observation, reservation)
    if now >= due - site.reservations.hold_ahead_s:
        return True
    others = [h for vo, h in (horizons or {}).items() if vo != reservation.vo]
    return may_overrun(max(others, default=None), now, due)


def to_join(
    site: Site, observation: Observation, now: float
) -> list[tuple[Reservation, list[str]]]:
    """Workers to put into the LRM's own reservations: for each due one read from the LRM
    (``source`` "slurm"), the VO's workers registered in the LRM and in no reservation
    yet, up to its node count less the VO's workers it holds. Its own nodes serve the
    earliest reservation first; nothing is taken out of a reservation."""
    registered = [n for n in observation.nodes if n.state in {NodeState.JOINING, NodeState.READY}]
    held = {name for r in observation.reservations for name in r.lrm_nodes}
    joins: list[tuple[Reservation, list[str]]] = []
    for vo, due in reserved_floor(site, observation, now).items():
        free = sorted((n for n in registered if n.vo == vo and n.id not in held), key=_by_age)
        mine = {n.id for n in registered if n.vo == vo}
        for r in due:
            if r.source != "slurm" or not r.name:
                continue
            lacking = r.nodes - len(mine & set(r.lrm_nodes))
            taken, free = free[: max(0, lacking)], free[max(0, lacking) :]
            if taken:
                joins.append((r, [n.id for n in taken]))
    return joins


def _by_age(node: WorkerNode) -> tuple[float, str]:
    return node.created_at, node.id


def reserved_floor(
    site: Site, observation: Observation, now: float
) -> dict[str, list[Reservation]]:
    """The due reservations of each VO, earliest start first."""
    due: dict[str, list[Reservation]] = {}
    for r in sorted(observation.reservations, key=lambda r: (r.start, r.id)):
        if is_due(site, observation, r, now):
            due.setdefault(r.vo, []).append(r)
    return due


# -- admission ------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    """Whether a requested reservation is accepted, and in words why (with the figures)."""

    accepted: bool
    reason: str
    local_nodes: int = 0
    cloud_nodes: int = 0


def overlapping(request: Reservation, others: Iterable[Reservation]) -> list[Reservation]:
    return [
        r
        for r in others
        if r.id != request.id
        and r.state in OPEN_RESERVATION_STATES
        and r.start < request.end
        and request.start < r.end
    ]


def _local_slots(site: Site, vo: VoConfig, taken: Sequence[tuple[VoConfig, int]]) -> int:
    """Workers of ``vo`` that the configured hosts hold once ``taken`` (other
    reservations' VOs and node counts) are packed first. Best-effort workers can be
    drained ahead of a start, so a host's whole size counts, not what is free now."""
    rooms = [
        [h.cores - h.reserved_cores, h.memory_mb - h.reserved_memory_mb] for h in site.local.hosts
    ]

    def place(flavor_vo: VoConfig) -> bool:
        cores, memory = flavor_vo.flavor.cores, flavor_vo.flavor.memory_mb
        fitting = [r for r in rooms if r[0] >= cores and r[1] >= memory]
        if not fitting:
            return False
        best = min(fitting, key=lambda r: (r[0] - cores, r[1] - memory))
        best[0] -= cores
        best[1] -= memory
        return True

    for other_vo, count in taken:
        if other_vo.image.libvirt:
            for _ in range(count):
                if not place(other_vo):
                    break
    slots = 0
    while vo.image.libvirt and place(vo):
        slots += 1
    return slots


def admit(request: Reservation, others: Iterable[Reservation], site: Site) -> Admission:
    """Accept a reservation only if its nodes fit over its whole window, with every
    other open reservation it overlaps: the VO's ``max_nodes``, the local hosts' room
    (the configured sizes), then, where it may burst, the VO's and the site's cloud
    node limits and budgets for the rest."""
    vo = site.vo(request.vo)
    if request.end <= request.start:
        return Admission(False, "the end must come after the start")
    if request.nodes < 1:
        return Admission(False, "a reservation needs at least one node")
    overlap = overlapping(request, others)
    same_vo = sum(r.nodes for r in overlap if r.vo == vo.name)
    if same_vo + request.nodes > vo.max_nodes:
        return Admission(
            False,
            f"VO {vo.name} max_nodes {vo.max_nodes}: {same_vo} node(s) already reserved "
            f"over that window, {request.nodes} asked",
        )
    taken = [(site.vo(r.vo), r.nodes) for r in sorted(overlap, key=lambda r: (r.start, r.id))]
    local = min(request.nodes, _local_slots(site, vo, taken))
    rest = request.nodes - local
    if rest == 0:
        return Admission(True, f"{local} node(s) on local hosts", local, 0)
    room = f"local hosts hold {local} of {request.nodes} worker(s) of {vo.name}'s flavor"
    if not request.burst:
        return Admission(False, f"{room} over that window, and it may not burst to EC2")
    cloud_no = _cloud_refusal(site, vo, rest, overlap)
    if cloud_no:
        return Admission(False, f"{room}; the other {rest} cannot go to EC2: {cloud_no}")
    return Admission(True, f"{local} node(s) local, {rest} on EC2", local, rest)


def _cloud_refusal(site: Site, vo: VoConfig, count: int, overlap: list[Reservation]) -> str:
    ec2 = site.ec2
    if not vo.cloud.allowed:
        return f"VO {vo.name} cloud.allowed is false"
    if ec2 is None or not vo.image.ec2:
        return "no EC2 section" if ec2 is None else f"VO {vo.name} has no EC2 image"
    types = ec2.instance_types.get(vo.name, [])
    if not types or types[0] not in ec2.prices:
        return f"VO {vo.name} has no priced instance type"
    price = ec2.prices[types[0]]
    # overlapping reservations are counted as if all of theirs went to EC2: the worst case
    vo_reserved = sum(r.nodes for r in overlap if r.vo == vo.name)
    site_reserved = sum(r.nodes for r in overlap)
    if vo_reserved + count > vo.cloud.max_nodes:
        return f"VO {vo.name} cloud.max_nodes {vo.cloud.max_nodes} ({vo_reserved} reserved)"
    if site_reserved + count > ec2.max_instances:
        return f"ec2.max_instances {ec2.max_instances} ({site_reserved} reserved)"
    cost = count * price
    if cost > vo.cloud.max_hourly_cost + 1e-9:
        return (
            f"VO {vo.name} cloud budget ${vo.cloud.max_hourly_cost:.2f}/h < "
            f"${cost:.2f}/h for {count} x {types[0]}"
        )
    if cost > ec2.max_hourly_cost + 1e-9:
        return f"site cloud budget ${ec2.max_hourly_cost:.2f}/h < ${cost:.2f}/h"
    return ""


# -- status -----------------------------------------------------------------------------


def up_nodes(nodes: Iterable[WorkerNode], vo: str) -> int:
    """The VO's nodes the LRM shows up (ready, whatever they run)."""
    return sum(1 for n in nodes if n.vo == vo and n.state is NodeState.READY)


def next_state(
    reservation: Reservation,
    site: Site,
    observation: Observation,
    now: float,
) -> Reservation:
    """The reservation as this pass finds it: preparing inside its lead, ready when all
    its nodes are up, active from the start, done at the end; at the start it records
    how many of its nodes were up, and when all were, how late."""
    r = reservation
    if r.state not in OPEN_RESERVATION_STATES:
        return r
    if now >= r.end:
        if r.late_s is None:  # never all up while it ran (or no pass ran during it)
            why = (
                "no pass saw its start"
                if r.ready_at_start is None
                else (f"{r.ready_at_start} of {r.nodes} node(s) up at the start, never all")
            )
            return replace(r, state=ReservationState.FAILED, reason=why)
        return replace(r, state=ReservationState.DONE)
    up = up_nodes(observation.nodes, r.vo)
    # the VO's nodes serve its reservations earliest first
    ahead = sum(
        o.nodes
        for o in observation.reservations
        if o.vo == r.vo
        and o.id != r.id
        and (o.start, o.id) < (r.start, r.id)
        and o.state in OPEN_RESERVATION_STATES
        and now < o.end
    )
    mine_up = max(0, min(r.nodes, up - ahead))
    if now >= r.start:
        ready = r.ready_at_start if r.ready_at_start is not None else mine_up
        late = r.late_s
        if late is None and mine_up >= r.nodes:
            late = max(0.0, now - r.start) if r.state is not ReservationState.READY else 0.0
        return replace(r, state=ReservationState.ACTIVE, ready_at_start=ready, late_s=late)
    if not is_due(site, observation, r, now):
        return r
    if mine_up >= r.nodes:
        return replace(r, state=ReservationState.READY)
    return replace(r, state=ReservationState.PREPARING)


def utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def describe_reservation(r: Reservation, now: float) -> str:
    """The reservation's state in words, with the figures an admin checks."""
    what = f"{r.nodes} node(s) of {r.vo} from {utc(r.start)} to {utc(r.end)}"
    when = (
        f"{r.start - now:.0f} s before the start"
        if now <= r.start
        else f"{now - r.start:.0f} s after the start"
    )
    if r.state is ReservationState.PREPARING:
        return f"preparing: booting {what} ({when})"
    if r.state is ReservationState.READY:
        return f"ready: {what}, all up {when}"
    if r.state is ReservationState.ACTIVE:
        up = f"{r.ready_at_start} of {r.nodes} node(s) up at the start"
        if r.late_s is None:
            return f"active: {what}; {up}, the rest still coming"
        timing = "on time" if r.late_s == 0 else f"the last {r.late_s:.0f} s late"
        return f"active: {what}; {up}, {timing}"
    if r.state is ReservationState.DONE:
        return f"done: {what}; its nodes are ordinary idle workers again"
    return f"{r.state.value}: {what}" + (f" ({r.reason})" if r.reason else "")
