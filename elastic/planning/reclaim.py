"""Idle local workers of one VO make room for another VO's pending work.

Layer: pure. Local VMs
belong to one VO, so a host full of one VO's idle workers blocks another VO
that waits: without this step the waiting VO bursts to the cloud and pays,
while local cores sit idle until the idle timeout frees them. An idle worker
that its own VO's pending demand does not need is worth less than a present
need of another VO, so it is drained at once rather than after the timeout,
and the room it frees is counted for the waiting VO, so that the cloud does not
also burst for the same want. The waiting VO's local node boots on a later
pass, once the drained worker is destroyed: a local boot plus a pass or two is
still sooner, and free, next to a cloud boot.
"""

from __future__ import annotations

from collections.abc import Sequence

from elastic.config import VoConfig
from elastic.model import Drain, ProviderKind, WorkerNode
from elastic.planning.capacity import HostRoom, VoCapacity
from elastic.planning.state import PassState, View


def spare_idle_local(
    vo: VoConfig, nodes: Sequence[WorkerNode], nodes_needed: int, floor: int
) -> list[WorkerNode]:
    """The VO's idle local workers beyond its pending demand and its floor (``min_nodes``
    or its due reservations), longest idle first: the ones it will miss least."""
    spare = VoCapacity.of(nodes).spare(nodes_needed, floor)
    if spare <= 0:
        return []
    idle = [n for n in nodes if n.provider is ProviderKind.LIBVIRT and n.idle]
    idle.sort(key=lambda n: (n.idle_since or 0.0, n.id))
    return idle[:spare]


def fits_once_left(room: HostRoom, node: WorkerNode, vo: VoConfig) -> bool:
    """Whether a worker of ``vo`` fits in the room, once ``node`` has left it."""
    return room.fits(vo.flavor.cores - node.cores, vo.flavor.memory_mb - node.memory_mb)


def reclaim_idle(state: PassState, view: View) -> list[Drain]:
    """Drain spare idle local workers whose room another VO's unplaced wants can use.

    The wants local placement could not satisfy this pass, and the room left after it,
    are both reduced for what the reclaimed room will hold (``state.reclaimed``). The VO
    holding the fewest local cores per share is served first, as in placement; a worker
    is drained only when its room, with what is already free on its host, fits that
    VO's flavor. At most ``policy.max_early_drains_per_pass`` go in a pass, and no more
    than ``max_boots_per_pass``: the boots that will take their room come next pass.
    """
    site = view.site
    drains: list[Drain] = []
    room_of = {r.name: r for r in state.rooms}
    for h in view.observation.hosts:
        if h.reachable and h.name not in room_of:
            room_of[h.name] = HostRoom(h.name, h.cores_free, h.memory_mb_free)
    # VOs with wants left and no free room anywhere (with room, they only wait for the
    # boot budget); decided once, then narrowed as wants are met and room appears
    waiting = [
        vo
        for vo in site.vos
        if state.wants.get(vo.name, 0) > 0
        and vo.image.libvirt
        and not any(r.fits(vo.flavor.cores, vo.flavor.memory_mb) for r in room_of.values())
    ]
    if not waiting:
        return drains
    candidates = [
        n
        for vo in site.vos
        for n in spare_idle_local(vo, view.nodes(vo.name), view.needed(vo.name), view.floor(vo))
    ]
    candidates.sort(key=lambda n: (n.idle_since or 0.0, n.id))
    for node in candidates:
        if state.early_drains_left <= 0 or len(drains) >= site.policy.max_boots_per_pass:
            break  # and no more than the next pass can boot in their place
        room = room_of.get(node.location)
        if room is None:
            continue
        wanting = sorted(
            (vo for vo in waiting if vo.name != node.vo),
            key=lambda vo: state.held_local.get(vo.name, 0.0) / vo.share,
        )
        taker = next((vo for vo in wanting if fits_once_left(room, node, vo)), None)
        if taker is None:
            continue
        room.cores_free += node.cores - taker.flavor.cores
        room.memory_mb_free += node.memory_mb - taker.flavor.memory_mb
        state.wants[taker.name] -= 1
        state.held_local[taker.name] = state.held_local.get(taker.name, 0.0) + taker.flavor.cores
        state.reclaimed[taker.name] = state.reclaimed.get(taker.name, 0) + 1
        state.retire_early(node.id)
        drains.append(
            Drain(
                node.id,
                node.vo,
                f"idle and not needed by {node.vo}'s pending demand; its room on "
                f"{node.location} goes to {taker.name}, whose pending jobs found no "
                "free local room",
            )
        )
        waiting = [
            vo
            for vo in waiting
            if state.wants[vo.name] > 0 and not room.fits(vo.flavor.cores, vo.flavor.memory_mb)
        ]
        if not waiting:
            break
    return drains
