"""Idle cloud workers give way to local room at once, not after their timeout.

Layer: pure (imports model, config, demand, placement, reclaim and retirement).
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from elastic.config import Site
from elastic.demand import Demand
from elastic.model import Drain, ProviderKind, WorkerNode
from elastic.placement import HostRoom, take_worker
from elastic.reclaim import spare_idle_local
from elastic.retirement import VoCapacity, is_idle


@dataclass
class Repatriation:
    """The idle cloud workers drained this pass, and the idle local workers kept to
    take their VO's next jobs (so not drained for idleness in the same pass)."""

    drains: list[Drain] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)


def repatriate(
    site: Site,
    nodes: Mapping[str, Sequence[WorkerNode]],
    demand: Demand,
    rooms: list[HostRoom],
    boots: Mapping[str, int],
    taken: set[str],
) -> Repatriation:
    """Drain idle cloud workers whose place local room can take.

    ``rooms`` is the host room left after this pass's boots and reclaims, and is
    reduced here for what each drained worker's replacement would need; host
    room counts only while such a replacement would stay within the VO's
    ``max_nodes`` (``boots`` are this pass's boots per VO). ``taken`` holds the
    nodes this pass already drains. A VO keeps what its pending demand and
    ``min_nodes`` need, and no more than ``max_boots_per_pass`` go in a pass.
    """
    result = Repatriation()
    for vo in site.vos:
        if not vo.image.libvirt:
            continue  # the VO cannot run locally: its cloud workers have no substitute
        mine = [n for n in nodes.get(vo.name, ()) if n.id not in taken]
        idle_cloud = sorted(
            (n for n in mine if n.provider is ProviderKind.EC2 and is_idle(n)),
            key=lambda n: (-n.hourly_cost, n.id),
        )
        needed = demand.by_vo[vo.name].nodes_needed
        limit = VoCapacity.of(mine).spare(needed, vo.min_nodes)
        spare = spare_idle_local(vo, mine, needed)
        headroom = vo.max_nodes - len(nodes.get(vo.name, ())) - boots.get(vo.name, 0)
        for cloud in idle_cloud[: max(0, limit)]:
            if len(result.drains) >= site.policy.max_boots_per_pass:
                return result
            if spare:
                local = spare.pop()
                result.kept.add(local.id)
                where = f"idle local worker {local.id}"
            else:
                room = take_worker(rooms, vo) if headroom > 0 else None
                if room is None:
                    break
                headroom -= 1
                where = f"room on local host {room.name}"
            result.drains.append(
                Drain(
                    cloud.id,
                    vo.name,
                    f"idle cloud worker; {where} can take {vo.name}'s next jobs "
                    "(cloud nodes go first)",
                )
            )
    return result
