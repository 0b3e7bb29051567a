"""Scale-up: how many new workers each VO wants, and where they go.

Layer: pure. Local hosts first, by VO share; then EC2 for what found no local room,
within every VO and site limit and budget, at most ``max_boots_per_pass`` boots in all.
Each rule takes the pass state and the view and leaves, for every want it could not
meet, the reason that bound (``PassState.hold``).
"""

from __future__ import annotations

from collections.abc import Callable

from elastic.config import Site, VoConfig
from elastic.model import Boot, ProviderKind, Reason, WorkerNode
from elastic.planning import reasons
from elastic.planning.capacity import (
    UPCOMING_STATES,
    Placement,
    VoCapacity,
    flavor_workers,
    share_order,
)
from elastic.planning.demand import (
    aged,
    compute_demand,
    freeing_cores,
    nodes_for_shapes,
    oldest_young_age,
)
from elastic.planning.sizing import choose_workers, first_workers_worth, sized_types, uncovered
from elastic.planning.state import PassState, View
from elastic.planning.thresholds import burst_delay


def node_id(site: Site, vo: str, serial: int) -> str:
    """Node ids double as host names: short, DNS-safe, unique per site."""
    return f"{site.site.name}-{vo}-{serial:05d}"


def want(state: PassState, view: View, leaving: set[str]) -> None:
    """New nodes per VO: pending demand less booting and idle nodes, raised to
    ``min_nodes``; what ``max_nodes`` cuts off is short for that reason. Nodes destroyed
    this pass are no capacity, but still count against ``max_nodes`` until their VMs
    are really gone."""
    for vo in view.site.vos:
        nodes = view.nodes(vo.name)
        capacity = VoCapacity.of([n for n in nodes if n.id not in leaving])
        needed = view.needed(vo.name)
        reserved = state.reserved.get(vo.name, 0)  # booted for reservations this pass
        # booting and idle nodes in flavor workers: a cloud worker sized to its jobs
        # holds less or more than one; a recallable one waits for ``recall`` to decide
        recall = {n.id for n in state.recallable.get(vo.name, [])}
        covering = flavor_workers((n for n in nodes if n.id not in leaving | recall), vo)
        covering += reserved
        # a reservation's own nodes are place_reserved's: only min_nodes raises the wants
        wanted = max(needed - covering, vo.min_nodes - capacity.alive - reserved, 0)
        state.want(vo.name, wanted)
        state.covered[vo.name] = min(covering, needed)
        allowed = max(0, vo.max_nodes - len(nodes) - reserved)
        if wanted > allowed:
            state.hold(
                vo.name, wanted - allowed, reasons.vo_max_nodes(vo.name, vo.max_nodes, len(nodes))
            )


def hold_backed_off(state: PassState, view: View) -> None:
    """A VO whose boots failed fewer than ``boot_failures_before_failover`` times waits
    out its backoff: the error may be transient and its target the right one."""
    for vo in view.site.vos:
        waiting = view.backoffs.waiting(vo.name)
        if waiting is not None:
            target = f"{waiting.provider} {waiting.location}"
            reason = state.backoff_reason(target, waiting.until, waiting.failures)
            state.hold(vo.name, state.wants.get(vo.name, 0), reason)


def place_local(state: PassState, view: View) -> None:
    """Pack wanted nodes onto local hosts, one at a time to the VO with the fewest
    local cores per share."""
    if not view.observation.local_ok:
        for vo in view.site.vos:
            state.local_no[vo.name] = reasons.local_unreadable()
        return
    _by_share(state, view, state.held_local, state.take_local, state.local_no)


def _by_share(
    state: PassState,
    view: View,
    held: dict[str, float],
    take: Callable[[VoConfig], Placement | Reason],
    said_no: dict[str, Reason],
) -> None:
    """Offer one node at a time by share; a VO's last "no" is kept in ``said_no``."""

    def try_place(vo: VoConfig) -> bool:
        if state.wants.get(vo.name, 0) <= 0:
            return False
        placed = take(vo)
        if isinstance(placed, Placement):
            return True
        said_no[vo.name] = placed
        return False

    share_order(view.site.vos, held, try_place)


def hold_for_unreadable_hosts(state: PassState, view: View) -> None:
    """An unreadable hypervisor is not a full one: the demand it might have served
    does not burst to EC2 unless ``policy.burst_when_local_unreadable`` says so."""
    site = view.site
    unreadable = [h.name for h in view.observation.hosts if not h.reachable]
    if not view.observation.local_ok:
        unreadable = [h.name for h in site.local.hosts]
    if not unreadable or site.policy.burst_when_local_unreadable:
        return
    for vo in site.vos:
        if vo.image.libvirt:
            state.hold(vo.name, state.wants.get(vo.name, 0), reasons.hosts_unreadable(unreadable))


def hold_for_local_soon(state: PassState, view: View) -> None:
    """Cloud wants only for demand that local capacity will not meet sooner.

    Ski rental for scale-up: a job that local capacity picks up within a cloud boot
    never needed the cloud VM, and waiting that long before renting one is
    2-competitive; so only jobs pending ``cloud_burst_after_s`` count. And capacity that
    running jobs free within ``cloud_boot_s`` by their walltimes (whole workers' worth
    of cores) is certain to come first, so it is waited for.
    """
    site, now, jobs = view.site, view.now, view.observation.jobs
    threshold = burst_delay(site, view.observation.boot_p95_s)
    delay = threshold.seconds
    freeing = freeing_cores(jobs, now, site.policy.cloud_boot_s)
    if delay <= 0 and not freeing:
        return
    old = view.demand
    if delay > 0:
        old = compute_demand(aged(jobs, now, delay), site)
    for vo in site.vos:
        left = state.wants.get(vo.name, 0)
        if left <= 0:
            continue
        placed = sum(1 for p in state.placements if p.vo == vo.name and not p.cloud)
        placed += state.reclaimed.get(vo.name, 0)
        base = flavor_workers(view.nodes(vo.name), vo) + placed
        soon = freeing.get(vo.name, 0) // vo.flavor.cores
        old_jobs = max(0, old.by_vo[vo.name].nodes_needed - base)
        without_freeing = min(left, old_jobs)
        final = max(0, min(left, old_jobs - soon))
        cores = freeing.get(vo.name, 0)
        if left > without_freeing:  # young jobs (and min_nodes wants) wait for their turn
            age = oldest_young_age(jobs, vo.name, now, delay)
            why = reasons.burst_below_threshold(age, threshold) if delay > 0 else None
            why = why or reasons.freeing_soon(cores, site.policy.cloud_boot_s)
            state.hold(vo.name, left - without_freeing, why)
        if without_freeing > final:
            state.hold(
                vo.name,
                without_freeing - final,
                reasons.freeing_soon(cores, site.policy.cloud_boot_s),
            )


def place_cloud(state: PassState, view: View) -> None:
    """Send what did not fit locally to EC2, by share; each VO's "no" is remembered."""
    if not view.observation.cloud_ok:
        for vo in view.site.vos:
            state.cloud_no[vo.name] = reasons.cloud_unreadable()
        return
    if view.site.ec2 is not None and view.site.ec2.worker_sizing == "jobs":
        size_cloud_workers(state, view)
    _by_share(state, view, state.held_cloud, state.take_cloud, state.cloud_no)


def size_cloud_workers(state: PassState, view: View) -> None:
    """Choose the type of each cloud worker a VO's wants lead to (``sizing.py``).

    The shares of its jobs that no idle or booting node, nor a node placed this pass,
    holds are sized, as many as its cloud wants stand for in flavor workers (the holds
    before were counted so); the wants then become the workers chosen: fewer when larger
    types hold them, more when smaller ones do, up to ``max_nodes`` (what that cuts off
    is short for it). Wants beyond the jobs (``min_nodes``) stay flavor workers. Types
    backed off are left out.
    """
    ec2 = view.site.ec2
    assert ec2 is not None
    demand = view.demand
    delay = burst_delay(view.site, view.observation.boot_p95_s).seconds
    for vo in view.site.vos:
        wants = state.wants.get(vo.name, 0)
        if wants <= 0 or not vo.cloud.allowed:
            continue
        if delay and demand is view.demand:  # only jobs old enough to burst
            demand = compute_demand(aged(view.observation.jobs, view.now, delay), view.site)
        allowed = [
            t
            for t in ec2.instance_types.get(vo.name, [])
            if not view.backoffs.blocked(vo.name, ProviderKind.EC2, t)
        ]
        nodes = view.nodes(vo.name)
        mine = [p for p in state.placements if p.vo == vo.name]
        rooms = [(n.cores, n.memory_mb) for n in nodes if _covers(n)] + [p.size(vo) for p in mine]
        flavor = vo.flavor
        left = uncovered(demand.by_vo[vo.name].shapes, rooms)
        shapes = first_workers_worth(left, wants, flavor.cores, flavor.memory_mb)
        floor = max(0, wants - nodes_for_shapes(shapes, flavor.cores, flavor.memory_mb))
        room = vo.max_nodes - len(nodes) - len(mine) - state.reclaimed.get(vo.name, 0) - floor
        sizing = choose_workers(shapes, sized_types(ec2, allowed), max(0, room))
        state.sized[vo.name] = list(sizing.workers)
        unfit = nodes_for_shapes(sizing.unfit, flavor.cores, flavor.memory_mb)
        capped = nodes_for_shapes(sizing.left, flavor.cores, flavor.memory_mb)
        change = floor + len(sizing.workers) + unfit + capped - wants
        state.wants[vo.name] += change
        state.wanted[vo.name] += change
        if capped:
            why = reasons.vo_max_nodes(vo.name, vo.max_nodes, len(nodes))
            state.hold(vo.name, capped, why)


def _covers(node: WorkerNode) -> bool:
    return node.state in UPCOMING_STATES or node.idle


def boots_for(site: Site, placements: list[Placement], first_serial: int) -> list[Boot]:
    """Boot actions for placements, with fresh node ids from ``first_serial``."""
    boots = []
    for offset, placed in enumerate(placements):
        vo = site.vo(placed.vo)
        where = f"EC2 {placed.instance_type}" if placed.cloud else f"local host {placed.location}"
        why = placed.why or f"pending jobs of {placed.vo} need nodes"
        boots.append(
            Boot(
                id=node_id(site, placed.vo, first_serial + offset),
                vo=placed.vo,
                provider=ProviderKind.EC2 if placed.cloud else ProviderKind.LIBVIRT,
                location=placed.location,
                cores=placed.size(vo)[0],
                memory_mb=placed.size(vo)[1],
                reason=f"{why}; placed on {where}",
                instance_type=placed.instance_type,
                hourly_cost=placed.hourly_cost,
                reservation=placed.reservation,
            )
        )
    return boots
