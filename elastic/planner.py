"""The decision: from one observation, the actions of one pass.

Layer: pure. Imports only model, config and the pure helpers (demand,
placement, retirement). No I/O and no clock: ``now`` is an argument, so any
decision can be replayed in a test or the simulator at any instant.

Order of reasoning, per pass:
1. if the LRM was not read, do nothing at all (no demand to trust, and
   nothing may be retired on a state we could not see);
2. per VO, nodes needed by pending runnable jobs, minus nodes booting or idle,
   raised to ``min_nodes`` and capped by ``max_nodes``;
3. place those on local hosts by share; what finds no local room may take
   the room of another VO's idle local workers (drained now, see reclaim);
   the rest goes to EC2 within limits, once its jobs have waited
   ``cloud_burst_after_s`` and unless running jobs' walltimes free the cores
   sooner than a cloud boot; at most ``max_boots_per_pass`` boots in all;
4. drain idle cloud workers at once when the local room left could hold a
   worker of their VO (see repatriate): a local boot is free;
5. destroy drained, failed and never-joined nodes that provably run nothing;
   drain idle nodes past their timeout that the demand does not need.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from elastic.backoff import BackoffView
from elastic.config import Site
from elastic.demand import Demand, VoDemand, compute_demand
from elastic.model import (
    LIVE_STATES,
    Action,
    Boot,
    Job,
    Observation,
    Plan,
    ProviderKind,
    VoDecision,
    WorkerNode,
)
from elastic.placement import (
    CloudRoom,
    HostRoom,
    Placement,
    place_cloud,
    place_local,
    rooms_of,
)
from elastic.reclaim import Reclaim, reclaim_idle
from elastic.repatriate import Repatriation, repatriate
from elastic.retirement import VoCapacity, overdue_drains, plan_destroys, plan_drains


def node_id(site: Site, vo: str, serial: int) -> str:
    """Node ids double as host names: short, DNS-safe, unique per site."""
    return f"{site.site.name}-{vo}-{serial:05d}"


def _wants(
    site: Site, demand: Demand, nodes: dict[str, list[WorkerNode]], leaving: set[str]
) -> dict[str, int]:
    """New nodes per VO. Nodes destroyed this pass are no capacity, but still
    count against ``max_nodes`` until their VMs are really gone."""
    wants: dict[str, int] = {}
    for vo in site.vos:
        vo_nodes = nodes.get(vo.name, [])
        capacity = VoCapacity.of([n for n in vo_nodes if n.id not in leaving])
        needed = demand.by_vo[vo.name].nodes_needed
        deficit = needed - capacity.upcoming - capacity.idle
        want = max(deficit, vo.min_nodes - capacity.alive, 0)
        wants[vo.name] = max(0, min(want, vo.max_nodes - len(vo_nodes)))
    return wants


def cloud_room(site: Site, nodes: list[WorkerNode]) -> CloudRoom:
    cloud = [n for n in nodes if n.provider is ProviderKind.EC2]
    ec2 = site.ec2
    if ec2 is None:
        return CloudRoom(0, 0.0)
    room = CloudRoom(
        instances=ec2.max_instances - len(cloud),
        hourly_cost=ec2.max_hourly_cost - sum(n.hourly_cost for n in cloud),
    )
    for vo in site.vos:
        mine = [n for n in cloud if n.vo == vo.name]
        room.vo_nodes[vo.name] = vo.cloud.max_nodes - len(mine)
        room.vo_cost[vo.name] = vo.cloud.max_hourly_cost - sum(n.hourly_cost for n in mine)
    return room


def held_cores(site: Site, nodes: list[WorkerNode], provider: ProviderKind) -> dict[str, float]:
    held: dict[str, float] = defaultdict(float)
    for node in nodes:
        if node.provider is provider:
            held[node.vo] += node.cores
    return held


def boots_for(site: Site, placements: list[Placement], first_serial: int) -> list[Boot]:
    """Boot actions for placements, with fresh node ids from ``first_serial``."""
    boots = []
    for offset, placed in enumerate(placements):
        vo = site.vo(placed.vo)
        where = f"EC2 {placed.instance_type}" if placed.cloud else f"local host {placed.location}"
        boots.append(
            Boot(
                node_id=node_id(site, placed.vo, first_serial + offset),
                vo=placed.vo,
                provider=ProviderKind.EC2 if placed.cloud else ProviderKind.LIBVIRT,
                location=placed.location,
                cores=vo.flavor.cores,
                memory_mb=vo.flavor.memory_mb,
                reason=f"pending jobs of {placed.vo} need nodes; placed on {where}",
                instance_type=placed.instance_type,
                hourly_cost=placed.hourly_cost,
            )
        )
    return boots


def _decision(
    vo_demand: VoDemand,
    nodes: list[WorkerNode],
    wants: int,
    actions: list[Action],
    reclaimed: int,
) -> VoDecision:
    mine = [a for a in actions if a.vo == vo_demand.vo]
    boots = [a for a in mine if isinstance(a, Boot)]
    cloud = sum(1 for b in boots if b.provider is ProviderKind.EC2)
    short = wants - len(boots) - reclaimed
    notes = []
    if reclaimed:
        notes.append(f"{reclaimed} node(s) wait for local room freed from idle workers")
    if short:
        notes.append(
            f"{short} node(s) short: no local room, jobs younger than cloud_burst_after_s, "
            "cores freeing within cloud_boot_s, cloud limits or boot budget"
        )
    note = "; ".join(notes)
    return VoDecision(
        vo=vo_demand.vo,
        pending_jobs=vo_demand.pending_jobs,
        nodes_needed=vo_demand.nodes_needed,
        nodes_alive=VoCapacity.of(nodes).alive,
        boots_local=len(boots) - cloud,
        boots_cloud=cloud,
        drains=sum(1 for a in mine if a.kind == "drain"),
        destroys=sum(1 for a in mine if a.kind == "destroy"),
        note=note,
    )


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


def _hold_cloud_demand(
    site: Site,
    observation: Observation,
    demand: Demand,
    now: float,
    nodes: dict[str, list[WorkerNode]],
    local: list[Placement],
    reclaimed: dict[str, int],
    remaining: dict[str, int],
) -> None:
    """Cloud wants only for demand that local capacity will not meet sooner.

    Ski rental for scale-up: a job that local capacity picks up within a cloud
    boot never needed the cloud VM, and waiting that long before renting one is
    2-competitive; so only jobs pending ``cloud_burst_after_s`` count. And
    capacity that running jobs free within ``cloud_boot_s`` by their walltimes
    (whole workers' worth of cores) is certain to come first, so it is waited for.
    """
    delay = site.policy.cloud_burst_after_s
    freeing = freeing_cores(observation.jobs, now, site.policy.cloud_boot_s)
    if delay <= 0 and not freeing:
        return
    aged = demand  # every pending job has waited long enough: no second count
    if delay > 0:
        aged = compute_demand(
            (j for j in observation.jobs if j.submit_time is None or now - j.submit_time >= delay),
            site,
        )
    for vo in site.vos:
        capacity = VoCapacity.of(nodes.get(vo.name, []))
        placed = sum(1 for p in local if p.vo == vo.name) + reclaimed.get(vo.name, 0)
        soon = freeing.get(vo.name, 0) // vo.flavor.cores
        cover = aged.by_vo[vo.name].nodes_needed - capacity.upcoming - capacity.idle - placed - soon
        remaining[vo.name] = min(remaining.get(vo.name, 0), max(0, cover))


def _hold_backed_off(site: Site, backoffs: BackoffView, remaining: dict[str, int]) -> list[str]:
    """A VO whose boots failed fewer than ``boot_failures_before_failover`` times waits
    out its backoff: the error may be transient and its target the right one."""
    notes = []
    for vo in site.vos:
        waiting = backoffs.waiting(vo.name)
        if waiting is not None and remaining.get(vo.name, 0) > 0:
            notes.append(
                f"VO {vo.name}: {remaining[vo.name]} boot(s) wait for the backoff on "
                f"{waiting.provider} {waiting.location} ({waiting.failures} failure(s) < "
                f"boot_failures_before_failover={site.policy.boot_failures_before_failover})"
            )
            remaining[vo.name] = 0
    return notes


def _hold_for_unreadable_hosts(
    site: Site, observation: Observation, remaining: dict[str, int]
) -> list[str]:
    """An unreadable hypervisor is not a full one: the demand it might have served
    does not burst to EC2 unless ``policy.burst_when_local_unreadable`` says so."""
    unreadable = [h.name for h in observation.hosts if not h.reachable]
    if not observation.local_ok:
        unreadable = [h.name for h in site.local.hosts]
    if not unreadable or site.policy.burst_when_local_unreadable:
        return []
    notes = []
    for vo in site.vos:
        if vo.image.libvirt and remaining.get(vo.name, 0) > 0:
            notes.append(
                f"VO {vo.name}: {remaining[vo.name]} node(s) not sent to EC2 while local "
                f"host(s) {', '.join(unreadable)} cannot be read "
                "(policy.burst_when_local_unreadable: false)"
            )
            remaining[vo.name] = 0
    return notes


def _of_vo(observation: Observation, vo: str) -> list[WorkerNode]:
    return [n for n in observation.nodes if n.vo == vo and n.state in LIVE_STATES]


def plan(observation: Observation, site: Site, now: float) -> Plan:
    """The actions of this pass, each with its reason. Pure."""
    if not observation.lrm_ok:
        unread = "LRM unread: nothing decided"
        decisions = tuple(
            VoDecision(
                vo.name, 0, 0, VoCapacity.of(_of_vo(observation, vo.name)).alive, 0, 0, 0, 0, unread
            )
            for vo in site.vos
        )
        note = "the LRM could not be read: no boots, drains or destroys this pass"
        return Plan(decisions=decisions, notes=(note,))
    live = [n for n in observation.nodes if n.state in LIVE_STATES]
    by_vo: dict[str, list[WorkerNode]] = defaultdict(list)
    for node in live:
        by_vo[node.vo].append(node)
    demand = compute_demand(observation.jobs, site)
    scale_down = observation.scale_down_ok
    destroys = plan_destroys(live, site, now) if scale_down else []
    wants = _wants(site, demand, by_vo, {d.node_id for d in destroys})
    remaining = dict(wants)
    budget = [site.policy.max_boots_per_pass]
    placements: list[Placement] = []
    notes: list[str] = []
    if not scale_down:
        notes.append("the LRM reading is not trusted: no drains or destroys this pass")
    backoffs = BackoffView.of(observation.backoffs, now, site.policy)
    notes += _hold_backed_off(site, backoffs, remaining)
    reclaim = Reclaim()
    rooms: list[HostRoom] = []
    if observation.local_ok:
        rooms = rooms_of(observation.hosts)
        held = held_cores(site, live, ProviderKind.LIBVIRT)
        placements += place_local(
            site,
            remaining,
            rooms,
            held,
            budget,
            blocked=lambda vo, host: backoffs.blocked(vo, ProviderKind.LIBVIRT, host),
        )
        if site.policy.reclaim_idle and scale_down:
            reclaim = reclaim_idle(site, by_vo, demand, remaining, rooms, observation.hosts, held)
    else:
        notes.append("local hypervisors could not be read: no local boots this pass")
    notes += _hold_for_unreadable_hosts(site, observation, remaining)
    if observation.cloud_ok:
        _hold_cloud_demand(
            site, observation, demand, now, by_vo, placements, reclaim.covered, remaining
        )
        held = held_cores(site, live, ProviderKind.EC2)
        placements += place_cloud(
            site,
            remaining,
            cloud_room(site, live),
            held,
            budget,
            blocked=lambda vo, kind: backoffs.blocked(vo, ProviderKind.EC2, kind),
        )
    else:
        notes.append("EC2 could not be read: no cloud boots this pass")
    back = Repatriation()
    if observation.local_ok and site.policy.repatriate_cloud and scale_down:
        booted = Counter(p.vo for p in placements)
        back = repatriate(site, by_vo, demand, rooms, booted, reclaim.node_ids)
    actions: list[Action] = list(boots_for(site, placements, observation.next_serial))
    actions += destroys
    actions += reclaim.drains
    actions += back.drains
    notes += overdue_drains(live, site, now)
    taken = reclaim.node_ids | {d.node_id for d in back.drains} | back.kept
    for vo in site.vos if scale_down else ():
        needed = demand.by_vo[vo.name].nodes_needed
        kept = [n for n in by_vo.get(vo.name, []) if n.id not in taken]
        actions += plan_drains(vo, kept, needed, site, now)
    decisions = tuple(
        _decision(
            demand.by_vo[vo.name],
            by_vo.get(vo.name, []),
            wants[vo.name],
            actions,
            reclaim.covered.get(vo.name, 0),
        )
        for vo in site.vos
    )
    return Plan(tuple(actions), demand.unplaceable, decisions, tuple(notes))
