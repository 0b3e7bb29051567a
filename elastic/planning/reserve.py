"""Reservations in a pass: boot the due ones' nodes first, set room aside for the coming.

Layer: pure. Runs before the queue's demand is placed, so a reservation inside its lead
time takes local room first (then EC2, where it may burst), and room that a reservation
will need within ``reservations.hold_ahead_s`` of its lead is set aside for its VO alone:
another VO's queue cannot fill it, and idle workers on it time out meanwhile. When
the local room cannot be had in time, idle workers of other VOs that their demand does
not need are drained for it (never a busy one: no job is lost), and what still finds no
place is reported at risk with the limit that binds.
"""

from __future__ import annotations

from elastic.config import VoConfig
from elastic.model import Cause, Drain, Reason, Reservation, WorkerNode
from elastic.planning import reasons
from elastic.planning.capacity import HostRoom, Placement, VoCapacity
from elastic.planning.reclaim import spare_idle_local
from elastic.planning.reservations import is_held
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
    rooms = {room.name: room for room in state.rooms}
    for h in view.observation.hosts:  # a full host has no room entry yet
        if h.reachable and h.name not in rooms:
            rooms[h.name] = HostRoom(h.name, h.cores_free, h.memory_mb_free)
    for other in view.site.vos:
        if other.name == vo.name:
            continue
        spare = spare_idle_local(
            other, view.nodes(other.name), view.needed(other.name), view.floor(other)
        )
        for node in spare:
            room = rooms.get(node.location)
            if node.id in state.taken or room is None:
                continue
            if not room.fits(vo.flavor.cores - node.cores, vo.flavor.memory_mb - node.memory_mb):
                continue
            room.cores_free += node.cores - vo.flavor.cores
            room.memory_mb_free += node.memory_mb - vo.flavor.memory_mb
            state.early_drains_left -= 1
            state.taken.add(node.id)
            return Drain(
                node.id,
                node.vo,
                f"idle and not needed by {node.vo}'s pending demand; its room on "
                f"{node.location} goes to reservation {label(r)} of {vo.name}",
            )
    return None


def set_aside_for_coming(state: PassState, view: View) -> None:
    """Keep local room for reservations within ``hold_ahead_s`` of their lead time: for
    each node they will lack (the VO's alive nodes serve the earliest), one worker's
    room on the best-fitting host, for that VO alone."""
    site, now = view.site, view.now
    if not view.observation.local_ok:
        return
    coming: dict[str, list[Reservation]] = {}
    for r in sorted(view.observation.reservations, key=lambda r: (r.start, r.id)):
        if is_held(site, view.observation, r, now):
            coming.setdefault(r.vo, []).append(r)
    for vo_name, held in coming.items():
        vo = site.vo(vo_name)
        if not vo.image.libvirt:
            continue
        due = view.reserved.get(vo_name, [])
        lacking = _missing(view.nodes(vo_name), [*due, *held])
        for r in lacking:
            if r in due:
                continue  # place_reserved boots those now
            if not state.set_aside(vo):
                break
