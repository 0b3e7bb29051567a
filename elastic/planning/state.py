"""One pass's planning state: the room, the budgets and the wants that every rule shares.

Layer: pure. Before this object, ``plan()`` threaded four mutable values through five
functions and no rule knew why the previous one had stopped. Now each rule asks
``PassState`` for a node (``take_local``, ``take_cloud``), and every "no" comes back as a
``Reason`` with its figures; a want that stays unmet is recorded where it was decided
(``hold``, ``close``), so the plan can say, for every node it did not boot, which limit
bound and by how much.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from elastic.config import Site, VoConfig
from elastic.model import (
    EXISTING_STATES,
    Cause,
    Kept,
    Observation,
    ProviderKind,
    Reason,
    Reservation,
    Short,
    WorkerNode,
)
from elastic.planning import reasons
from elastic.planning.backoff import BackoffView
from elastic.planning.capacity import (
    CloudRoom,
    HostRoom,
    Placement,
    best_fit,
    cloud_room,
    held_cores,
    rooms_of,
    take_worker,
)
from elastic.planning.demand import Demand, compute_demand
from elastic.planning.reservations import job_horizons, reserved_floor
from elastic.planning.sizing import SizedWorker, flavor_type, sized_types

#: a cloud "no" that says the VO cannot use EC2 at all: then the local reason binds
STRUCTURAL = frozenset(
    {Cause.CLOUD_NOT_ALLOWED, Cause.NO_CLOUD, Cause.NO_CLOUD_IMAGE, Cause.NO_INSTANCE_TYPES}
)


@dataclass(frozen=True)
class View:
    """What every rule reads and none changes: the observation, sorted for planning."""

    site: Site
    observation: Observation
    now: float
    live: tuple[WorkerNode, ...]
    by_vo: dict[str, list[WorkerNode]]
    demand: Demand
    backoffs: BackoffView
    #: each VO's due reservations, earliest first (``reservations.reserved_floor``)
    reserved: dict[str, list[Reservation]] = field(default_factory=dict)
    #: per VO, the longest a queue job starting now may run (``reservations.job_horizons``)
    horizons: dict[str, float] = field(default_factory=dict)

    @staticmethod
    def of(observation: Observation, site: Site, now: float) -> View:
        live = tuple(n for n in observation.nodes if n.state in EXISTING_STATES)
        by_vo: dict[str, list[WorkerNode]] = defaultdict(list)
        for node in live:
            by_vo[node.vo].append(node)
        return View(
            site,
            observation,
            now,
            live,
            by_vo,
            compute_demand(observation.jobs, site),
            BackoffView.of(observation.backoffs, now, site.policy),
            reserved_floor(site, observation, now),
            job_horizons(site, observation.jobs) if observation.reservations else {},
        )

    @property
    def scale_down(self) -> bool:
        return self.observation.scale_down_ok

    def nodes(self, vo: str) -> list[WorkerNode]:
        return self.by_vo.get(vo, [])

    def needed(self, vo: str) -> int:
        return self.demand.by_vo[vo].nodes_needed

    def floor(self, vo: VoConfig) -> int:
        """The nodes the VO keeps whatever its queue: ``min_nodes``, or more while
        reservations of it are due."""
        return max(vo.min_nodes, sum(r.nodes for r in self.reserved.get(vo.name, ())))

    def floor_reason(self, vo: VoConfig, alive: int) -> Reason:
        due = self.reserved.get(vo.name, ())
        if sum(r.nodes for r in due) > vo.min_nodes:
            return reasons.reserved(vo.name, [r.name or r.id for r in due], self.floor(vo), alive)
        return reasons.min_nodes(vo.name, vo.min_nodes, alive)


@dataclass
class PassState:
    """Room, budgets and wants, owned by ``plan()`` and changed only through its methods."""

    site: Site
    view: View
    rooms: list[HostRoom]
    cloud: CloudRoom
    boots_left: int
    early_drains_left: int
    held_local: dict[str, float]
    held_cloud: dict[str, float]
    #: new nodes each VO wants this pass, before any limit
    wanted: dict[str, int] = field(default_factory=dict)
    #: of those, still to place
    wants: dict[str, int] = field(default_factory=dict)
    #: booting and idle nodes that already hold part of the VO's demand
    covered: dict[str, int] = field(default_factory=dict)
    #: wants that room freed from another VO's idle workers will hold (booted next pass)
    reclaimed: dict[str, int] = field(default_factory=dict)
    placements: list[Placement] = field(default_factory=list)
    short: dict[str, list[Short]] = field(default_factory=lambda: defaultdict(list))
    kept: dict[str, list[Kept]] = field(default_factory=lambda: defaultdict(list))
    #: why the local stage stopped for a VO with wants left
    local_no: dict[str, Reason] = field(default_factory=dict)
    #: why the cloud stage stopped for a VO with wants left
    cloud_no: dict[str, Reason] = field(default_factory=dict)
    #: nodes this pass already drains, destroys or keeps for a purpose
    taken: set[str] = field(default_factory=set)
    #: local room set aside for a VO's coming reservation: host names, one worker each,
    #: already taken from ``rooms``; only that VO's nodes go there
    slots: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    #: nodes booted this pass for reservations, per VO
    reserved: dict[str, int] = field(default_factory=dict)
    #: reservation nodes that found no place this pass, per VO, with why
    at_risk: dict[str, list[Short]] = field(default_factory=lambda: defaultdict(list))
    #: per VO, the cloud workers sized to its queue this pass (``ec2.worker_sizing:
    #: jobs``), booted in this order by ``take_cloud``
    sized: dict[str, list[SizedWorker]] = field(default_factory=dict)
    #: per VO, booting cloud workers whose wants local room may meet instead this pass
    #: (``recall.recallable``): not counted as covering until ``recall`` decides
    recallable: dict[str, list[WorkerNode]] = field(default_factory=dict)

    @staticmethod
    def start(view: View) -> PassState:
        site = view.site
        return PassState(
            site=site,
            view=view,
            rooms=rooms_of(view.observation.hosts) if view.observation.local_ok else [],
            cloud=cloud_room(site, view.live),
            boots_left=site.policy.max_boots_per_pass,
            early_drains_left=site.policy.max_early_drains_per_pass,
            held_local=held_cores(view.live, ProviderKind.LIBVIRT),
            held_cloud=held_cores(view.live, ProviderKind.EC2),
        )

    # -- wants ------------------------------------------------------------------------

    def want(self, vo: str, count: int) -> None:
        self.wanted[vo] = count
        self.wants[vo] = count

    def hold(self, vo: str, count: int, reason: Reason, also: Reason | None = None) -> None:
        """``count`` of the VO's wants go unmet this pass, for ``reason``."""
        count = min(count, self.wants.get(vo, 0))
        if count <= 0:
            return
        self.wants[vo] -= count
        shorts = self.short[vo]
        for i, short in enumerate(shorts):
            if (short.reason, short.also) == (reason, also):
                shorts[i] = Short(short.count + count, reason, also)
                return
        shorts.append(Short(count, reason, also))

    def close(self) -> None:
        """Every want still open gets the reason of the stage that last said no."""
        for vo in self.site.vos:
            left = self.wants.get(vo.name, 0)
            if left > 0:
                self.hold(vo.name, left, *self.binding(vo.name))

    def binding(self, vo: str) -> tuple[Reason, Reason | None]:
        """The limit that kept the VO's last want out, and the other stage's "no" when it
        matters: the boot budget when either stage had room left, the local reason when
        the VO cannot use EC2 at all, else the cloud one."""
        local = self.local_no.get(vo)
        cloud = self.cloud_no.get(vo, reasons.cloud_unreadable())
        if cloud.cause is Cause.BOOT_BUDGET or (local and local.cause is Cause.BOOT_BUDGET):
            other = local if cloud.cause is Cause.BOOT_BUDGET else cloud
            if other is not None and other.cause is Cause.BOOT_BUDGET:
                other = None
            return reasons.boot_budget(self.boots_limit), other
        if cloud.cause in STRUCTURAL and local is not None:
            return local, cloud
        return cloud, local

    @property
    def boots_limit(self) -> int:
        return self.site.policy.max_boots_per_pass

    # -- local ------------------------------------------------------------------------

    def take_local(self, vo: VoConfig, reservation: str = "", why: str = "") -> Placement | Reason:
        """Room for one worker of ``vo`` on the best-fitting host, or why there is none.
        A node for a ``reservation`` is not one of the queue's wants."""
        if not vo.image.libvirt:
            return reasons.no_local_image(vo.name)
        if not self.site.local.hosts:
            return reasons.no_local_hosts()
        backoffs = self.view.backoffs
        slots = self.slots.get(vo.name, [])
        slot = next(
            (h for h in slots if not backoffs.blocked(vo.name, ProviderKind.LIBVIRT, h)), None
        )
        usable = [
            r for r in self.rooms if not backoffs.blocked(vo.name, ProviderKind.LIBVIRT, r.name)
        ]
        room = best_fit(usable, vo.flavor.cores, vo.flavor.memory_mb) if slot is None else None
        if room is None and slot is None:
            return self._no_local_room(vo)
        if self.boots_left <= 0:
            return reasons.boot_budget(self.boots_limit)
        if slot is not None:
            slots.remove(slot)  # its room was taken when it was set aside
            host = slot
        else:
            assert room is not None
            take_worker([room], vo)
            host = room.name
        self.boots_left -= 1
        if not reservation:
            self.wants[vo.name] -= 1
        placed = Placement(vo.name, host, False, reservation=reservation, why=why)
        self.placements.append(placed)
        return placed

    def _no_local_room(self, vo: VoConfig) -> Reason:
        backoffs = self.view.backoffs
        for room in self.rooms:
            backoff = backoffs.on(vo.name, ProviderKind.LIBVIRT, room.name)
            if backoff is not None and room.fits(vo.flavor.cores, vo.flavor.memory_mb):
                return self.backoff_reason(backoff.location, backoff.until, backoff.failures)
        cores, memory_mb = max(
            ((r.cores_free, r.memory_mb_free) for r in self.rooms), default=(0, 0)
        )
        return reasons.no_local_room(
            max(0, cores), max(0, memory_mb), vo.flavor.cores, vo.flavor.memory_mb
        )

    def backoff_reason(self, target: str, until: float, failures: int) -> Reason:
        threshold = self.site.policy.boot_failures_before_failover
        return reasons.backoff(target, until, self.view.now, failures, threshold)

    # -- cloud ------------------------------------------------------------------------

    def take_cloud(self, vo: VoConfig, reservation: str = "", why: str = "") -> Placement | Reason:
        """One EC2 worker for ``vo`` within every VO and site limit, or the limit that binds.
        A node for a ``reservation`` is not one of the queue's wants."""
        ec2 = self.site.ec2
        if not vo.cloud.allowed:
            return reasons.cloud_not_allowed(vo.name)
        if ec2 is None:
            return reasons.no_cloud()
        if not vo.image.ec2:
            return reasons.no_cloud_image(vo.name)
        configured = ec2.instance_types.get(vo.name, [])
        backoffs = self.view.backoffs
        types = [t for t in configured if not backoffs.blocked(vo.name, ProviderKind.EC2, t)]
        if not types:
            blocking = next(
                (b for t in configured if (b := backoffs.on(vo.name, ProviderKind.EC2, t))), None
            )
            if blocking is not None:
                return self.backoff_reason(blocking.location, blocking.until, blocking.failures)
            return reasons.no_instance_types(vo.name)
        room = self.cloud
        left = room.vo_nodes.get(vo.name, 0)
        if left < 1:
            return reasons.vo_cloud_max_nodes(
                vo.name, vo.cloud.max_nodes, vo.cloud.max_nodes - left
            )
        if room.instances < 1:
            return reasons.site_max_instances(ec2.max_instances, ec2.max_instances - room.instances)
        sized = self.sized.get(vo.name) if not reservation else None
        cores = memory_mb = 0  # the flavor
        if sized:  # the next worker sized to the queue
            kind, price = sized[0].instance_type.name, sized[0].instance_type.hourly_cost
            cores, memory_mb = sized[0].instance_type.vcpus, sized[0].instance_type.memory_mb
            why = why or f"pending jobs of {vo.name} need nodes; {sized[0].why()}"
        elif ec2.worker_sizing == "flavor":  # every type carries the flavor (validated)
            kind, price = types[0], ec2.prices[types[0]]
        else:  # a flavor worker (reservation, min_nodes) on the first type that carries it
            carrier = flavor_type(sized_types(ec2, types), vo.flavor.cores, vo.flavor.memory_mb)
            if carrier is None:
                return reasons.no_instance_types(vo.name)
            kind, price = carrier.name, carrier.hourly_cost
            cores, memory_mb = carrier.vcpus, carrier.memory_mb  # the LRM gets its real size
        vo_left = room.vo_cost.get(vo.name, 0.0)
        if price > vo_left + 1e-9:
            limit = vo.cloud.max_hourly_cost
            return reasons.vo_cloud_budget(vo.name, limit, limit - vo_left, price)
        if price > room.hourly_cost + 1e-9:
            limit = ec2.max_hourly_cost
            return reasons.site_cloud_budget(limit, limit - room.hourly_cost, price)
        if self.boots_left <= 0:
            return reasons.boot_budget(self.boots_limit)
        room.instances -= 1
        room.hourly_cost -= price
        room.vo_nodes[vo.name] -= 1
        room.vo_cost[vo.name] -= price
        self.boots_left -= 1
        if not reservation:
            self.wants[vo.name] -= 1
        if sized:
            sized.pop(0)
        placed = Placement(
            vo.name, ec2.region, True, kind, price, reservation, why, cores, memory_mb
        )
        self.placements.append(placed)
        return placed

    # -- scale-down -------------------------------------------------------------------

    def set_aside(self, vo: VoConfig) -> bool:
        """Take room for one worker of ``vo`` from the free rooms and keep it for that
        VO alone (``slots``); False when no host has room."""
        room = best_fit(self.rooms, vo.flavor.cores, vo.flavor.memory_mb)
        if room is None:
            return False
        take_worker([room], vo)
        self.slots[vo.name].append(room.name)
        return True

    def risk(self, vo: str, reason: Reason, also: Reason | None = None) -> None:
        """One node of a due reservation of ``vo`` found no place this pass."""
        shorts = self.at_risk[vo]
        for i, short in enumerate(shorts):
            if (short.reason, short.also) == (reason, also):
                shorts[i] = Short(short.count + 1, reason, also)
                return
        shorts.append(Short(1, reason, also))

    def retire_early(self, node_id: str) -> None:
        """A node drained or destroyed before its idle timeout: one of the pass's
        ``max_early_drains_per_pass``, and no other rule's to use."""
        self.early_drains_left -= 1
        self.taken.add(node_id)

    def keep(self, node: WorkerNode, reason: Reason) -> None:
        self.kept[node.vo].append(Kept(node.id, reason))
