"""Idle cloud workers give way to local room at once, not after their timeout.

Layer: pure.
The cloud idle timeout is rent-or-buy: an idle cloud VM is kept for about a
boot's worth of time because a new one would cost a boot. That reasoning holds
only when the next job would need a new *cloud* VM. When local room could hold
a worker of the same VO (one of its spare idle local workers, or free host
cores), the VO's next jobs can run locally for nothing, after a local boot at
worst, so the idle cloud worker is drained now and destroyed in this pass.
Left alone, it costs more than its idle tail: the LRM sends the VO's next job
to it (it is the VO's only free worker), and the cloud bill runs on for the
whole job while the local cores stand empty.

Busy cloud workers are left alone: draining one would not end its bill any
sooner, and would idle its free slots while the VO's next jobs wait for a boot.
The room counted for a drained worker is taken from the room left for the
next, so two cloud workers never count on the same cores.
"""

from __future__ import annotations

from collections import Counter

from elastic.model import Drain, ProviderKind
from elastic.planning import reasons
from elastic.planning.capacity import VoCapacity, take_worker
from elastic.planning.reclaim import spare_idle_local
from elastic.planning.state import PassState, View


def repatriate(state: PassState, view: View) -> list[Drain]:
    """Drain idle cloud workers whose place local room can take.

    The host room left after this pass's boots and reclaims is reduced here for what
    each drained worker's replacement would need; host room counts only while such a
    replacement would stay within the VO's ``max_nodes``. A VO keeps what its pending
    demand and ``min_nodes`` need; at most ``policy.max_early_drains_per_pass`` go in a
    pass; an idle local worker kept to take a drained cloud worker's jobs is recorded.
    """
    site = view.site
    drains: list[Drain] = []
    boots = Counter(p.vo for p in state.placements)
    for vo in site.vos:
        if not vo.image.libvirt:
            continue  # the VO cannot run locally: its cloud workers have no substitute
        mine = [n for n in view.nodes(vo.name) if n.id not in state.taken]
        idle_cloud = sorted(
            (n for n in mine if n.provider is ProviderKind.EC2 and n.idle),
            key=lambda n: (-n.hourly_cost, n.id),
        )
        needed = view.needed(vo.name)
        limit = VoCapacity.of(mine).spare(needed, view.floor(vo))
        spare = spare_idle_local(vo, mine, needed, view.floor(vo))
        headroom = vo.max_nodes - len(view.nodes(vo.name)) - boots.get(vo.name, 0)
        for cloud in idle_cloud[: max(0, limit)]:
            if state.early_drains_left <= 0:
                return drains
            if spare:
                local = spare.pop()
                state.taken.add(local.id)
                state.keep(local, reasons.takes_cloud_work(cloud.id))
                where = f"idle local worker {local.id}"
            else:
                room = take_worker(state.rooms, vo) if headroom > 0 else None
                if room is None:
                    break
                headroom -= 1
                where = f"room on local host {room.name}"
            state.retire_early(cloud.id)
            drains.append(
                Drain(
                    cloud.id,
                    vo.name,
                    f"idle cloud worker; {where} can take {vo.name}'s next jobs "
                    "(cloud nodes go first)",
                )
            )
    return drains
