"""Where new workers go: local hosts first, by VO share, then EC2 within limits.

Layer: pure (imports model and config). Both stages hand out one node at a
time to the VO that holds the least capacity per unit of share, so when local
room is scarce the VOs split it by their configured weights (a weighted
max-min fair split), and the cloud budget is split the same way.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from elastic.config import Site, VoConfig
from elastic.model import Host


@dataclass
class HostRoom:
    """Free room on one host, reduced as this pass places nodes on it."""

    name: str
    cores_free: int
    memory_mb_free: int

    def fits(self, cores: int, memory_mb: int) -> bool:
        return self.cores_free >= cores and self.memory_mb_free >= memory_mb


@dataclass
class CloudRoom:
    """What the cloud limits still allow this pass."""

    instances: int  # site-wide instance slots left
    hourly_cost: float  # site-wide budget left, per hour
    vo_nodes: dict[str, int] = field(default_factory=dict)  # per-VO cloud nodes left
    vo_cost: dict[str, float] = field(default_factory=dict)  # per-VO budget left


@dataclass(frozen=True)
class Placement:
    vo: str
    location: str  # host name, or the EC2 region
    cloud: bool
    instance_type: str = ""
    hourly_cost: float = 0.0


def share_order(
    vos: Iterable[VoConfig], held_cores: dict[str, float], try_place: Callable[[VoConfig], bool]
) -> None:
    """Offer nodes one at a time to the VO with the fewest cores per share.

    ``try_place`` places one node for a VO and says whether it did; a VO that
    cannot place (no room, no want left) drops out. Ties go to site.yaml order.
    """
    heap: list[tuple[float, int, VoConfig]] = [
        (held_cores.get(vo.name, 0.0) / vo.share, order, vo) for order, vo in enumerate(vos)
    ]
    heapq.heapify(heap)
    while heap:
        _, order, vo = heapq.heappop(heap)
        if not try_place(vo):
            continue
        held_cores[vo.name] = held_cores.get(vo.name, 0.0) + vo.flavor.cores
        heapq.heappush(heap, (held_cores[vo.name] / vo.share, order, vo))


def best_fit(rooms: list[HostRoom], cores: int, memory_mb: int) -> HostRoom | None:
    """The host that fits and is left with the fewest free cores (packing tight)."""
    best: HostRoom | None = None
    for room in rooms:
        tighter = best is None or (room.cores_free, room.memory_mb_free) < (
            best.cores_free,
            best.memory_mb_free,
        )
        if tighter and room.fits(cores, memory_mb):
            best = room
    return best


#: (vo, host or instance type) -> may not be used now (a boot backoff)
Blocked = Callable[[str, str], bool]


def take_worker(
    rooms: list[HostRoom], vo: VoConfig, blocked: Blocked | None = None
) -> HostRoom | None:
    """Reserve room for one worker of ``vo``'s flavor on the best-fitting host."""
    if blocked is not None:
        rooms = [r for r in rooms if not blocked(vo.name, r.name)]
    room = best_fit(rooms, vo.flavor.cores, vo.flavor.memory_mb)
    if room is not None:
        room.cores_free -= vo.flavor.cores
        room.memory_mb_free -= vo.flavor.memory_mb
    return room


def rooms_of(hosts: Iterable[Host]) -> list[HostRoom]:
    return [
        HostRoom(h.name, h.cores_free, h.memory_mb_free)
        for h in hosts
        if h.reachable and h.cores_free > 0
    ]


def place_local(
    site: Site,
    wants: dict[str, int],
    rooms: list[HostRoom],
    held_cores: dict[str, float],
    budget: list[int],
    blocked: Blocked | None = None,
) -> list[Placement]:
    """Pack wanted nodes onto local hosts; ``wants`` and ``budget[0]`` are reduced.
    ``blocked`` hosts are skipped for that VO (its boots there back off)."""
    placed: list[Placement] = []

    def try_place(vo: VoConfig) -> bool:
        if budget[0] <= 0 or wants.get(vo.name, 0) <= 0 or not vo.image.libvirt:
            return False
        room = take_worker(rooms, vo, blocked)
        if room is None:
            return False
        wants[vo.name] -= 1
        budget[0] -= 1
        placed.append(Placement(vo.name, room.name, cloud=False))
        return True

    share_order(site.vos, held_cores, try_place)
    return placed


def place_cloud(
    site: Site,
    wants: dict[str, int],
    room: CloudRoom,
    held_cores: dict[str, float],
    budget: list[int],
    blocked: Blocked | None = None,
) -> list[Placement]:
    """Send what did not fit locally to EC2, within every VO and site limit; an
    instance type ``blocked`` for a VO gives way to its next one."""
    ec2 = site.ec2
    placed: list[Placement] = []
    if ec2 is None:
        return placed

    def try_place(vo: VoConfig) -> bool:
        types = [
            t for t in ec2.instance_types.get(vo.name, []) if not (blocked and blocked(vo.name, t))
        ]
        if budget[0] <= 0 or wants.get(vo.name, 0) <= 0 or not types:
            return False
        if not vo.cloud.allowed or not vo.image.ec2:
            return False
        price = ec2.prices[types[0]]
        if room.instances < 1 or room.vo_nodes.get(vo.name, 0) < 1:
            return False
        if price > room.hourly_cost + 1e-9 or price > room.vo_cost.get(vo.name, 0.0) + 1e-9:
            return False
        room.instances -= 1
        room.hourly_cost -= price
        room.vo_nodes[vo.name] -= 1
        room.vo_cost[vo.name] -= price
        wants[vo.name] -= 1
        budget[0] -= 1
        placed.append(Placement(vo.name, ec2.region, True, types[0], price))
        return True

    share_order(site.vos, held_cores, try_place)
    return placed
