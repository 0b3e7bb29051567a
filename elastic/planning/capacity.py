"""What a VO holds and can spare, and what room hosts and the cloud have left.

Layer: pure. The one place where "idle", "upcoming" and "spare" are defined, so scale-up
(which counts idle and booting nodes against demand) and scale-down (which drains only
what demand does not need) can never disagree about the same node.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from elastic.config import Site, VoConfig
from elastic.model import (
    CAPACITY_STATES,
    Host,
    NodeState,
    ProviderKind,
    WorkerNode,
)

UPCOMING_STATES = frozenset({NodeState.REQUESTED, NodeState.BOOTING, NodeState.JOINING})


@dataclass(frozen=True)
class VoCapacity:
    """How a VO's nodes split this pass, as both scale-up and scale-down see it."""

    alive: int
    upcoming: int
    idle: int

    def spare(self, nodes_needed: int, min_nodes: int) -> int:
        """How many nodes the VO can lose: booting or idle beyond its pending demand,
        and never below ``min_nodes``."""
        return min(self.upcoming + self.idle - nodes_needed, self.alive - min_nodes)

    @staticmethod
    def of(nodes: Sequence[WorkerNode]) -> VoCapacity:
        return VoCapacity(
            alive=sum(1 for n in nodes if n.state in CAPACITY_STATES),
            upcoming=sum(1 for n in nodes if n.state in UPCOMING_STATES),
            idle=sum(1 for n in nodes if n.idle),
        )


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
    #: the reservation this node is for; "" for the queue's demand
    reservation: str = ""
    #: why: the reservation's words, where it is for one
    why: str = ""
    #: the worker's size when it is not the VO's flavor (a cloud worker sized to its
    #: jobs: its instance type's vCPUs and memory); 0: the flavor
    cores: int = 0
    memory_mb: int = 0

    def size(self, vo: VoConfig) -> tuple[int, int]:
        """Cores and memory of the worker this placement boots."""
        if self.cores > 0:
            return self.cores, self.memory_mb
        return vo.flavor.cores, vo.flavor.memory_mb


def flavor_workers(nodes: Iterable[WorkerNode], vo: VoConfig) -> int:
    """The VO's booting and idle nodes counted in workers of its flavor, each by the
    smaller of its core and memory ratios: demand is counted in flavor workers, and a
    cloud worker sized to its jobs (a 2-vCPU or a 36-vCPU type) holds less or more
    than one. A flavor-sized node counts one, as it always did."""
    total = 0.0
    for node in nodes:
        if node.state in UPCOMING_STATES or node.idle:
            ratio = node.cores / vo.flavor.cores
            if node.memory_mb > 0:
                ratio = min(ratio, node.memory_mb / vo.flavor.memory_mb)
            total += ratio
    return math.floor(total + 1e-9)


def rooms_of(hosts: Iterable[Host]) -> list[HostRoom]:
    return [
        HostRoom(h.name, h.cores_free, h.memory_mb_free)
        for h in hosts
        if h.reachable and h.cores_free > 0
    ]


def best_fit(rooms: Iterable[HostRoom], cores: int, memory_mb: int) -> HostRoom | None:
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


def take_worker(rooms: Iterable[HostRoom], vo: VoConfig) -> HostRoom | None:
    """Reserve room for one worker of ``vo``'s flavor on the best-fitting host."""
    room = best_fit(rooms, vo.flavor.cores, vo.flavor.memory_mb)
    if room is not None:
        room.cores_free -= vo.flavor.cores
        room.memory_mb_free -= vo.flavor.memory_mb
    return room


def held_cores(nodes: Iterable[WorkerNode], provider: ProviderKind) -> dict[str, float]:
    held: dict[str, float] = defaultdict(float)
    for node in nodes:
        if node.provider is provider:
            held[node.vo] += node.cores
    return held


def cloud_room(site: Site, nodes: Iterable[WorkerNode]) -> CloudRoom:
    """The site's and each VO's cloud node and cost limits, less what live nodes hold."""
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


def share_order(
    vos: Iterable[VoConfig], held: dict[str, float], try_place: Callable[[VoConfig], bool]
) -> None:
    """Offer nodes one at a time to the VO with the fewest cores per share.

    ``try_place`` places one node for a VO and says whether it did; a VO that cannot
    place (no room, no want left) drops out. Ties go to site.yaml order. When room is
    scarce the VOs so split it by their weights (a weighted max-min fair split).
    """
    heap: list[tuple[float, int, VoConfig]] = [
        (held.get(vo.name, 0.0) / vo.share, order, vo) for order, vo in enumerate(vos)
    ]
    heapq.heapify(heap)
    while heap:
        _, order, vo = heapq.heappop(heap)
        if not try_place(vo):
            continue
        held[vo.name] = held.get(vo.name, 0.0) + vo.flavor.cores
        heapq.heappush(heap, (held[vo.name] / vo.share, order, vo))
