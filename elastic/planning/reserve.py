"""Reservations in a pass: boot the due ones' nodes first, set room aside for the coming.

Layer: pure. Runs before the queue's demand is placed, so a reservation inside its lead
time takes local room first (then EC2, where it may burst), and room that a reservation
will need within ``reservations.hold_ahead_s`` of its lead is set aside for its VO alone:
another VO's queue cannot fill it, and idle workers on it time out meanwhile. When
the local room cannot be had at the lead, idle workers of other VOs that their demand
does not need are drained for it, and what still finds no place is reported at risk
with the limit that binds.

Ahead of that, room that no free host holds is freed by draining queue workers on it
(``drain_ahead``): a worker is drained once a job starting on it could run past the
lead (its VO's longest walltime, ``drain_ahead_s`` for a job without one), and only if
what it runs ends by the lead by the walltimes its LRM gives; a busy worker is never
killed, and one whose jobs' end the LRM does not bound is left alone.
"""

from __future__ import annotations

from elastic.config import VoConfig
from elastic.model import (
    Cause,
    Drain,
    LrmNodeState,
    NodeState,
    ProviderKind,
    Reason,
    Reservation,
    WorkerNode,
)
from elastic.planning import reasons
from elastic.planning.capacity import HostRoom, Placement, VoCapacity
from elastic.planning.reclaim import fits_once_left, spare_idle_local
from elastic.planning.reservations import due_at, is_held, may_overrun
from elastic.planning.state import PassState, View

#: a local "no" that draining another VO's idle worker can turn into a yes
ROOM_CAUSES = frozenset({Cause.NO_LOCAL_ROOM})


def label(r: Reservation) -> str:
    return r.name or r.id


def _missing(nodes: list[WorkerNode], due: list[Reservation]) -> list[Reservation]:
    """One entry per node the due reservations lack; alive nodes serve the earliest."""
    alive = VoCapacity.of(nodes).alive
    missing: list[Reservation] = []
    for r in due:
        served = min(alive, r.nodes)
        alive -= served
        missing += [r] * (r.nodes - served)
    return missing


def place_reserved(state: PassState, view: View, leaving: set[str]) -> list[Drain]:
    """Boot the nodes the due reservations lack, local first; drain other VOs' spare idle
    local workers for room that is not there; report the rest at risk."""
    drains: list[Drain] = []
    site, now = view.site, view.now
    for vo_name, due in view.reserved.items():
        vo = site.vo(vo_name)
        nodes = [n for n in view.nodes(vo_name) if n.id not in leaving]
        headroom = vo.max_nodes - len(view.nodes(vo_name))
        for r in _missing(nodes, due):
            why = f"reservation {label(r)} of {vo.name}: {r.nodes} node(s) up by its start"
            if headroom <= 0:
                cap = reasons.vo_max_nodes(vo.name, vo.max_nodes, vo.max_nodes - headroom)
                state.risk(vo.name, reasons.reservation_at_risk(label(r), r.start - now, cap))
                continue
            placed = _place(state, view, vo, r, why)
            if isinstance(placed, Placement):
                headroom -= 1
                state.reserved[vo.name] = state.reserved.get(vo.name, 0) + 1
                continue
            local_no, cloud_no = placed
            drain = _drain_for_room(state, view, vo, r) if local_no.cause in ROOM_CAUSES else None
            if drain is not None:
                drains.append(drain)
                continue
            binding, also = (cloud_no, local_no) if cloud_no is not None else (local_no, None)
            at_risk = reasons.reservation_at_risk(label(r), r.start - now, binding)
            state.risk(vo.name, at_risk, also)
    return drains


def _place(
    state: PassState, view: View, vo: VoConfig, r: Reservation, why: str
) -> Placement | tuple[Reason, Reason | None]:
    """A place for one node of ``r``: local, else EC2 when it may burst; else both "no"s."""
    if view.observation.local_ok:
        local = state.take_local(vo, r.id, why)
    else:
        local = reasons.local_unreadable()
    if isinstance(local, Placement):
        return local
    if not r.burst:
        return local, None
    if not view.observation.cloud_ok:
        return local, reasons.cloud_unreadable()
    cloud = state.take_cloud(vo, r.id, why)
    if isinstance(cloud, Placement):
        return cloud
    return local, cloud


def _drain_for_room(state: PassState, view: View, vo: VoConfig, r: Reservation) -> Drain | None:
    """Drain one idle local worker of another VO, beyond what its own demand and floor
    need, on a host where its room (with what is free there) fits a node of ``vo``.
    The freed room is set aside for ``vo``: the reservation's node boots there next pass."""
    if not view.scale_down or state.early_drains_left <= 0:
        return None
    rooms = _rooms(state, view)
    for other in view.site.vos:
        if other.name == vo.name:
            continue
        spare = spare_idle_local(
            other, view.nodes(other.name), view.needed(other.name), view.floor(other)
        )
        for node in spare:
            room = rooms.get(node.location)
            if node.id in state.taken or room is None or not fits_once_left(room, node, vo):
                continue
            _take_free_part(room, node, vo)  # the worker is there until it leaves
            state.retire_early(node.id)
            return Drain(
                node.id,
                node.vo,
                f"idle and not needed by {node.vo}'s pending demand; its room on "
                f"{node.location} goes to reservation {label(r)} of {vo.name}",
                r.id,
            )
    return None


def _rooms(state: PassState, view: View) -> dict[str, HostRoom]:
    """This pass's free room per reachable host, a full host included (its room is 0)."""
    rooms = {room.name: room for room in state.rooms}
    for h in view.observation.hosts:  # a full host has no room entry yet
        if h.reachable and h.name not in rooms:
            rooms[h.name] = HostRoom(h.name, h.cores_free, h.memory_mb_free)
    return rooms


def _take_once_left(room: HostRoom, node: WorkerNode, vo: VoConfig) -> None:
    """Count ``node``'s room as freed on its host and one worker of ``vo`` as put there."""
    room.cores_free += node.cores - vo.flavor.cores
    room.memory_mb_free += node.memory_mb - vo.flavor.memory_mb


def set_aside_for_coming(state: PassState, view: View) -> list[Reservation]:
    """Keep local room for reservations held before their lead time (``is_held``): for
    each node they will lack (the VO's alive nodes serve the earliest), one worker's
    room on the best-fitting host, for that VO alone. Returns one entry per node for
    which no free room was there to set aside."""
    site, now = view.site, view.now
    if not view.observation.local_ok:
        return []
    coming: dict[str, list[Reservation]] = {}
    unplaced: list[Reservation] = []
    for r in sorted(view.observation.reservations, key=lambda r: (r.start, r.id)):
        if is_held(site, view.observation, r, now, view.horizons):
            coming.setdefault(r.vo, []).append(r)
    for vo_name, held in coming.items():
        vo = site.vo(vo_name)
        if not vo.image.libvirt:
            continue
        due = view.reserved.get(vo_name, [])
        lacking = _missing(view.nodes(vo_name), [*due, *held])
        full = False  # once no host holds one more worker of the VO, none holds the next
        for r in lacking:
            if r in due:
                continue  # place_reserved boots those now
            full = full or not state.set_aside(vo)
            if full:
                unplaced.append(r)
    return unplaced


def work_end(node: WorkerNode, now: float) -> float | None:
    """When the node's room is free of its work by what the LRM says: now for an idle
    one, its jobs' walltime end for a busy one, None when nothing bounds it."""
    if node.running_jobs == 0 and node.lrm_state in {LrmNodeState.IDLE, LrmNodeState.DRAINED}:
        return now
    return node.busy_until


def drain_ahead(state: PassState, view: View, unplaced: list[Reservation]) -> list[Drain]:
    """Free room for the nodes ``set_aside_for_coming`` found none for: count room that
    draining local workers of other VOs free by the lead, then drain more of them.

    A worker is drained only once a job starting on it could run past the lead (so not
    before it must), only if its work ends by the lead (idle, or its jobs' walltimes say
    so), and never below its VO's floor. What cannot be freed in time goes to EC2 at
    the lead where the reservation may burst; otherwise it is reported at risk now."""
    if not unplaced or not view.scale_down:
        return []
    now, site = view.now, view.site
    real = _rooms(state, view)
    # the drained workers are still there this pass: their room is counted on copies,
    # and only the free room they are counted with is taken from this pass's room
    rooms = {name: HostRoom(r.name, r.cores_free, r.memory_mb_free) for name, r in real.items()}
    drains: list[Drain] = []
    above_floor = {
        vo.name: VoCapacity.of(view.nodes(vo.name)).alive - view.floor(vo) for vo in site.vos
    }
    local = [
        n
        for n in view.live
        if n.provider is ProviderKind.LIBVIRT and n.id not in state.taken and n.location in rooms
    ]
    for r in unplaced:
        vo, due = site.vo(r.vo), due_at(site, view.observation, r)
        ends = {n.id: work_end(n, now) for n in local if n.vo != r.vo and n.id not in state.taken}
        freeing = sorted(
            (n for n in local if n.id in ends and _ends_by(ends[n.id], due)),
            key=lambda n: (n.state is not NodeState.DRAINING, ends[n.id] or 0.0, n.id),
        )
        node = next(
            (
                n
                for n in freeing
                if fits_once_left(rooms[n.location], n, vo)
                and (n.state is NodeState.DRAINING or _may_drain(state, view, n, due, above_floor))
            ),
            None,
        )
        if node is not None:
            _take_once_left(rooms[node.location], node, vo)
            _take_free_part(real[node.location], node, vo)
            state.taken.add(node.id)
            if node.state is not NodeState.DRAINING:  # a draining one frees it in time
                state.early_drains_left -= 1
                above_floor[node.vo] -= 1
                reason = _drain_reason(node, r, vo, now, due)
                drains.append(Drain(node.id, node.vo, reason, r.id))
        elif not (r.burst and site.ec2 is not None):
            why = reasons.not_freed_in_time(vo.name, due - now)
            state.risk(vo.name, reasons.reservation_at_risk(label(r), r.start - now, why))
    return drains


def _take_free_part(room: HostRoom, node: WorkerNode, vo: VoConfig) -> None:
    """Take from this pass's free room what a worker of ``vo`` needs beyond ``node``'s."""
    room.cores_free -= min(room.cores_free, max(0, vo.flavor.cores - node.cores))
    room.memory_mb_free -= min(room.memory_mb_free, max(0, vo.flavor.memory_mb - node.memory_mb))


def _ends_by(end: float | None, due: float) -> bool:
    return end is not None and end <= due


def _may_drain(
    state: PassState, view: View, node: WorkerNode, due: float, above_floor: dict[str, int]
) -> bool:
    """A ready worker above its VO's floor, that a job starting on it now could keep past
    ``due``; within this pass's early drains."""
    return (
        node.state is NodeState.READY
        and state.early_drains_left > 0
        and above_floor.get(node.vo, 0) > 0
        and may_overrun(view.horizons.get(node.vo), view.now, due)
    )


def _drain_reason(node: WorkerNode, r: Reservation, vo: VoConfig, now: float, due: float) -> str:
    if node.running_jobs == 0:
        work = "idle"
    else:
        work = f"its jobs' walltimes end in {round((node.busy_until or now) - now)} s"
    return (
        f"drained ahead for reservation {label(r)} of {vo.name}: {work}, before its "
        f"nodes' boot in {round(due - now)} s, and a job starting here now could run past it"
    )
