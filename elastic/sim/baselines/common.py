"""What every faithful baseline reads from an observation, and where its new workers go.

Layer: pure simulation policies. Imports ``elastic.model`` and ``elastic.config`` only,
never ``elastic.planning`` (an import contract holds the baselines to that): a baseline
that borrowed the planner's rules would measure elastic against itself. These helpers
are deliberately plain: a first-fit of pending jobs into workers, and local host room
before EC2 for a new worker (the order of a hybrid site's node list; none of these
systems knows VO shares, reclaim or repatriation). Every cloud worker is the VO's flavor
on the first instance type listed, billed that type's price: each system has one node
type per group and no rule that sizes a VM to the jobs (``ec2.worker_sizing`` is
elastic's own).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from elastic.config import Site, VoConfig
from elastic.model import (
    Action,
    Boot,
    Destroy,
    Job,
    LrmNodeState,
    NodeState,
    Observation,
    Plan,
    ProviderKind,
    WorkerNode,
)


def is_up(node: WorkerNode) -> bool:
    """Joined and taking jobs."""
    return node.state is NodeState.READY


def is_booting(node: WorkerNode) -> bool:
    return node.state in (NodeState.REQUESTED, NodeState.BOOTING, NodeState.JOINING)


def is_idle(node: WorkerNode) -> bool:
    return is_up(node) and node.lrm_state is LrmNodeState.IDLE


def idle_for(node: WorkerNode, now: float) -> float:
    """Seconds the node has run nothing (0 when it runs a job or is not up)."""
    if not is_idle(node) or node.idle_since is None:
        return 0.0
    return now - node.idle_since


def pending_of(observation: Observation, vo: str) -> list[Job]:
    """The VO's pending jobs in queue order (submission, then id)."""
    jobs = [j for j in observation.jobs if j.vo == vo and not j.running]
    return sorted(jobs, key=lambda j: (j.submit_time or 0.0, int(j.id) if j.id.isdigit() else 0))


def nodes_of(observation: Observation, vo: str) -> list[WorkerNode]:
    return [n for n in observation.nodes if n.vo == vo]


class Baseline(ABC):
    """A baseline policy: the planner's signature plus the per-node use the LRM reports
    (``qhost``, ``sinfo`` CPUAlloc), which the engine passes because ``reads_node_use``.

    ``interval_s`` fixes the polling period where the system has its own (None: the
    site's pass interval); ``resume_timeout_s`` is how long its LRM waits for a booting
    node before marking it DOWN (None: forever).
    """

    reads_node_use = True
    interval_s: float | None = None
    resume_timeout_s: float | None = None

    def __call__(
        self,
        observation: Observation,
        site: Site,
        now: float,
        used: Mapping[str, int] | None = None,
    ) -> Plan:
        return Plan(tuple(self.decide(observation, site, now, used or {})))

    @abstractmethod
    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        """This pass's actions: each baseline's own rule."""


def free_of(node: WorkerNode, used: Mapping[str, int]) -> int:
    """Free cores of a node; without a reading, a busy node counts as full."""
    default = node.cores if node.running_jobs else 0
    return node.cores - used.get(node.id, default)


def first_fit(jobs: Iterable[Job], bins: list[int], worker_cores: int) -> int:
    """New workers of ``worker_cores`` that the jobs need beyond ``bins`` (free cores of
    the workers there are, changed in place), each job placed in queue order on the first
    workers with room for its per-node share, one share per worker."""
    opened = 0
    for job in jobs:
        share, left = job.cores_per_node, max(1, job.nodes)
        for i, free in enumerate(bins):
            if free >= share:
                bins[i] -= share
                left -= 1
                if not left:
                    break
        for _ in range(left):
            bins.append(worker_cores - share)
            opened += 1
    return opened


@dataclass
class Room:
    """Where new workers may go this pass: free local host room first, then EC2 within
    every VO and site limit. ``boot`` takes the room and names the node."""

    site: Site
    serial: int
    hosts: dict[str, list[int]]  # host -> [free cores, free memory MB]
    alive: dict[str, int]  # VO -> nodes it holds
    cloud_alive: dict[str, int]  # VO -> cloud nodes it holds
    cloud_cost: dict[str, float]  # VO -> hourly cost of its cloud nodes
    boots: list[Boot] = field(default_factory=list)

    @classmethod
    def of(cls, observation: Observation, site: Site) -> Room:
        hosts = {h.name: [h.cores_free, h.memory_mb_free] for h in observation.hosts}
        alive: dict[str, int] = {}
        cloud: dict[str, int] = {}
        cost: dict[str, float] = {}
        for n in observation.nodes:
            alive[n.vo] = alive.get(n.vo, 0) + 1
            if n.provider is ProviderKind.EC2:
                cloud[n.vo] = cloud.get(n.vo, 0) + 1
                cost[n.vo] = cost.get(n.vo, 0.0) + n.hourly_cost
        return cls(site, observation.next_serial, hosts, alive, cloud, cost)

    def boot(self, vo: VoConfig, reason: str, *, local: bool = True) -> Boot | None:
        """One new worker of ``vo``, or None when no room or limit allows one."""
        if self.alive.get(vo.name, 0) >= vo.max_nodes:
            return None
        spot = self._local(vo) if local else None
        if spot is not None:
            boot = self._make(vo, ProviderKind.LIBVIRT, spot, "", 0.0, reason)
        else:
            cloud = self._cloud(vo)
            if cloud is None:
                return None
            boot = self._make(vo, ProviderKind.EC2, self._region(), *cloud, reason)
        self.alive[vo.name] = self.alive.get(vo.name, 0) + 1
        self.boots.append(boot)
        return boot

    def _local(self, vo: VoConfig) -> str | None:
        for name, (cores, memory) in self.hosts.items():
            if cores >= vo.flavor.cores and memory >= vo.flavor.memory_mb:
                self.hosts[name] = [cores - vo.flavor.cores, memory - vo.flavor.memory_mb]
                return name
        return None

    def _region(self) -> str:
        return self.site.ec2.region if self.site.ec2 is not None else ""

    def _cloud(self, vo: VoConfig) -> tuple[str, float] | None:
        """The first listed type and its price, within the cloud limits, or None."""
        ec2 = self.site.ec2
        if ec2 is None or not vo.cloud.allowed or not ec2.instance_types.get(vo.name):
            return None
        kind = ec2.instance_types[vo.name][0]
        price = ec2.prices[kind]
        vo_cost = self.cloud_cost.get(vo.name, 0.0)
        total_cost = sum(self.cloud_cost.values())
        if (
            self.cloud_alive.get(vo.name, 0) >= vo.cloud.max_nodes
            or sum(self.cloud_alive.values()) >= ec2.max_instances
            or vo_cost + price > vo.cloud.max_hourly_cost + 1e-9
            or total_cost + price > ec2.max_hourly_cost + 1e-9
        ):
            return None
        self.cloud_alive[vo.name] = self.cloud_alive.get(vo.name, 0) + 1
        self.cloud_cost[vo.name] = vo_cost + price
        return kind, price

    def _make(
        self,
        vo: VoConfig,
        provider: ProviderKind,
        location: str,
        kind: str,
        price: float,
        reason: str,
    ) -> Boot:
        serial = self.serial + len(self.boots)
        return Boot(
            id=f"{self.site.site.name}-{vo.name}-{serial:05d}",
            vo=vo.name,
            provider=provider,
            location=location,
            cores=vo.flavor.cores,
            memory_mb=vo.flavor.memory_mb,
            instance_type=kind,
            hourly_cost=price,
            reason=reason,
        )


def destroy(nodes: Sequence[WorkerNode], reason: str) -> list[Destroy]:
    return [Destroy(n.id, n.vo, reason) for n in nodes]


def stuck(nodes: Iterable[WorkerNode], now: float, timeout_s: float) -> list[WorkerNode]:
    """Nodes booting for longer than ``timeout_s``: the system gives them up."""
    return [n for n in nodes if is_booting(n) and now - n.created_at > timeout_s]


def book(jobs: Iterable[Job], bins: list[int]) -> None:
    """Hold room in ``bins`` for jobs already promised workers; opens none."""
    for job in jobs:
        share, left = job.cores_per_node, max(1, job.nodes)
        for i, free in enumerate(bins):
            if free >= share:
                bins[i] -= share
                left -= 1
                if not left:
                    break


def fits(job: Job, bins: Sequence[int]) -> bool:
    return sum(1 for free in bins if free >= job.cores_per_node) >= max(1, job.nodes)
