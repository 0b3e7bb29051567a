"""The discrete-event loop: arrivals, job ends, boots, and a policy pass every interval.

Layer: pure simulation. The policy is any ``(Observation, Site, now) -> Plan``;
for elastic that is ``elastic.planning.plan`` itself, unchanged: the observation
is built from the simulated state exactly as the engine builds it from the
real world (pending jobs, WorkerNodes with LRM states, hosts with free room).
Drained nodes that run nothing are destroyed in the same pass, as the engine's
follow-up does. Boots take ``boot_delay_s[provider]`` seconds (optionally jittered, seeded);
cloud VMs are billed per second from launch to destruction, with a minimum, each at its
Boot's own price and with its own cores (a worker sized to its jobs: its type's).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from elastic.config import Site
from elastic.model import (
    Boot,
    Drain,
    Host,
    Job,
    LrmNodeState,
    NodeState,
    Observation,
    Plan,
    ProviderKind,
    Reservation,
    WorkerNode,
    lrm_activity,
    spec_fields,
)
from elastic.planning.reservations import p95_nearest_rank
from elastic.planning.scale_down import plan_destroys
from elastic.sim.cluster import Cluster, JobRecord, SimNode
from elastic.sim.workload import SimJob

Policy = Callable[[Observation, Site, float], Plan]
#: how long after the last job's end a run goes on for idle VMs to be retired
TAIL_S = 3600.0


def pass_interval(policy: Policy, default: float) -> float:
    """A policy's own polling period where the system it stands for fixes one
    (``interval_s`` on the callable, e.g. StarCluster's 60 s), else the site's."""
    own = getattr(policy, "interval_s", None)
    return float(own) if own else default


def resume_timeout(policy: Policy) -> float:
    """How long the LRM of ``policy`` waits for a booting node (``resume_timeout_s``, as
    Slurm's ResumeTimeout): a node slower than that never joins. None: forever."""
    own = getattr(policy, "resume_timeout_s", None)
    return float(own) if own else math.inf


@dataclass(frozen=True)
class SimConfig:
    pass_interval_s: float = 60.0
    boot_delay_s: dict[ProviderKind, float] = field(
        default_factory=lambda: {ProviderKind.LIBVIRT: 60.0, ProviderKind.EC2: 120.0}
    )
    boot_jitter: float = 0.2  # ± fraction of the boot delay, seeded
    billing_minimum_s: float = 60.0
    seed: int = 1
    #: mean interruptions per cloud VM-hour, as EC2 spot reclaims capacity (0: on-demand);
    #: an interrupted VM vanishes and its jobs go back to the queue, to start over
    spot_interruptions_per_h: float = 0.0


def configured_boot_p95_s(config: SimConfig) -> dict[ProviderKind, float]:
    """The p95 a ledger would measure of the configured boots: each is ``boot_delay_s``
    times a uniform factor in 1 ± ``boot_jitter``, whose 95th percentile is 1 + 0.9 x
    jitter. Fed to the planner from the first pass, so that thresholds set to ``auto``
    follow the boot time of the run as they would a site's measured history."""
    factor = 1 + 0.9 * config.boot_jitter
    return {kind: delay * factor for kind, delay in config.boot_delay_s.items()}


@dataclass
class SimResult:
    policy: str
    jobs: list[JobRecord]
    nodes: list[SimNode]
    end: float
    timeline: list[tuple[float, int, int, int]]  # (t, pending jobs, local nodes, cloud nodes)
    unfinished: int = 0


def _worker(
    node: SimNode, now: float, boot_timeout_s: float, busy_until: float | None = None
) -> WorkerNode:
    if not node.ready(now):
        state, lrm = NodeState.BOOTING, LrmNodeState.ABSENT
    else:
        state = NodeState.DRAINING if node.draining else NodeState.READY
        lrm = lrm_activity(node.draining, bool(node.running))
    return WorkerNode(
        **spec_fields(node.spec),
        state=state,
        lrm_state=lrm,
        created_at=node.launched,
        state_since=node.ready_at,
        running_jobs=len(node.running),
        busy_until=busy_until if node.running else None,
        idle_since=(node.idle_since if node.idle_since is not None else node.ready_at)
        if lrm is LrmNodeState.IDLE
        else None,
        boot_deadline=node.launched + boot_timeout_s,
    )


class Simulation:
    def __init__(
        self,
        site: Site,
        jobs: Sequence[SimJob],
        policy: Policy,
        config: SimConfig,
        reservations: Sequence[Reservation] = (),
    ):
        self.site, self.policy, self.config = site, policy, config
        self.jobs = sorted(jobs, key=lambda j: j.submit)
        self.cluster = Cluster()
        self.rng = random.Random(config.seed)
        self.serial = 1
        #: advance reservations, each seen by the policy from its ``created_at`` on
        self.reservations = tuple(reservations)
        self.configured_p95 = configured_boot_p95_s(config)

    def boot_p95_s(self) -> dict[ProviderKind, float]:
        """As the ledger measures it: per provider, the p95 (nearest rank) of boot-to-ready
        seconds over its latest 100 nodes that joined."""
        nodes = [*self.cluster.retired, *self.cluster.nodes.values()]
        by_kind: dict[ProviderKind, list[float]] = {}
        for node in sorted(nodes, key=lambda n: n.ready_at):
            if math.isfinite(node.ready_at) and (
                node.destroyed is None or node.destroyed > node.ready_at
            ):
                by_kind.setdefault(node.spec.provider, []).append(node.ready_at - node.launched)
        return {kind: p95_nearest_rank(values[-100:]) for kind, values in by_kind.items()}

    def _busy_until(self, node: SimNode) -> float | None:
        """The latest start + walltime of the node's jobs, as an LRM would give it; None
        when one has no walltime (the workload gave none)."""
        ends = []
        for job_id in node.running:
            record = self.cluster.records[job_id]
            if not record.job.walltime or record.start is None:
                return None
            ends.append(record.start + record.job.walltime)
        return max(ends, default=None)

    def observation(self, now: float) -> Observation:
        pending = [
            Job(
                str(j.id),
                j.cores,
                j.memory_mb,
                j.vo,
                nodes=j.nodes,
                walltime_s=int(j.walltime) if j.walltime else None,
                submit_time=j.submit,
            )
            for j in self.cluster.pending(now)
        ]
        ids = dict.fromkeys(i for n in self.cluster.nodes.values() for i in n.running)
        started = [self.cluster.records[i] for i in ids]  # a job on several nodes once
        running = [
            Job(
                str(r.job.id),
                r.job.cores,
                r.job.memory_mb,
                r.job.vo,
                nodes=r.job.nodes,
                walltime_s=int(r.job.walltime) if r.job.walltime else None,
                running=True,
                submit_time=r.job.submit,
                start_time=r.start,
            )
            for r in started
        ]
        used: dict[str, tuple[int, int]] = {}
        for node in self.cluster.nodes.values():
            if node.spec.provider is ProviderKind.LIBVIRT:
                cores, memory = used.get(node.spec.location, (0, 0))
                used[node.spec.location] = (cores + node.spec.cores, memory + node.spec.memory_mb)
        hosts = []
        for h in self.site.local.hosts:
            cores, memory = used.get(h.name, (0, 0))
            free_cores = h.cores - h.reserved_cores - cores
            free_memory = h.memory_mb - h.reserved_memory_mb - memory
            hosts.append(Host(h.name, h.cores, h.memory_mb, free_cores, free_memory))
        timeout = float(self.site.policy.boot_timeout_s)
        workers = tuple(
            _worker(n, now, timeout, self._busy_until(n)) for n in self.cluster.nodes.values()
        )
        seen = tuple(r for r in self.reservations if r.created_at <= now)
        return Observation(
            (*pending, *running),
            workers,
            tuple(hosts),
            next_serial=self.serial,
            reservations=seen,
            boot_p95_s=self.boot_p95_s() if seen else self.configured_p95,
        )

    def decide(self, now: float) -> Plan:
        """The policy's plan for now. A policy that ``reads_node_use`` (the baselines) also
        gets the cores in use on each node, as ``qhost`` or ``sinfo`` report them."""
        observation = self.observation(now)
        if getattr(self.policy, "reads_node_use", False):
            used = {n.id: n.spec.cores - n.free_cores for n in self.cluster.nodes.values()}
            return self.policy(observation, self.site, now, used)  # type: ignore[call-arg]
        return self.policy(observation, self.site, now)

    def apply(self, plan: Plan, now: float) -> None:
        for action in plan.actions:
            if isinstance(action, Boot):
                self.serial += 1
                delay = self.config.boot_delay_s[action.provider]
                delay *= 1 + self.rng.uniform(-self.config.boot_jitter, self.config.boot_jitter)
                ready_at = now + delay
                if delay > resume_timeout(self.policy):  # the LRM marks it DOWN: never joins
                    ready_at = math.inf
                interrupt_at = None
                rate = self.config.spot_interruptions_per_h
                if action.provider is ProviderKind.EC2 and rate > 0:
                    interrupt_at = now + self.rng.expovariate(rate / 3600)
                self.cluster.nodes[action.node_id] = SimNode(
                    action.spec(), now, ready_at, interrupt_at=interrupt_at
                )
            elif isinstance(action, Drain):
                self.cluster.nodes[action.node_id].draining = True
            elif action.node_id in self.cluster.nodes:
                node = self.cluster.nodes[action.node_id]
                if node.running:
                    raise AssertionError(f"policy destroyed {node.id} while it ran jobs")
                self.cluster.retire(action.node_id, now)

    def act(self, plan: Plan, now: float) -> None:
        """Apply a plan as the engine does, including its same-pass follow-up: nodes
        just drained are destroyed at once if they then run nothing."""
        self.apply(plan, now)
        drained = {a.node_id for a in plan.actions if isinstance(a, Drain)}
        if drained:  # only these nodes are read again, as the LRM would show them now
            timeout = float(self.site.policy.boot_timeout_s)
            nodes = self.cluster.nodes
            fresh = [_worker(nodes[i], now, timeout) for i in sorted(drained) if i in nodes]
            self.apply(Plan(tuple(plan_destroys(fresh, self.site, now))), now)

    def _next_event(self, now: float, next_pass: float, arrival: int) -> float:
        candidates = [next_pass]
        if arrival < len(self.jobs):
            candidates.append(self.jobs[arrival].submit)
        end = self.cluster.next_end()
        if end is not None:
            candidates.append(end)
        boots = [n.ready_at for n in self.cluster.nodes.values() if n.ready_at > now]
        if boots:
            candidates.append(min(boots))
        interrupts = [n.interrupt_at for n in self.cluster.nodes.values() if n.interrupt_at]
        if interrupts:
            candidates.append(min(interrupts))
        return max(now, min(candidates))

    def run(
        self,
        name: str,
        horizon: float | None = None,
        on_pass: Callable[[float], None] | None = None,
    ) -> SimResult:
        last_submit = self.jobs[-1].submit if self.jobs else 0.0
        limit = horizon if horizon is not None else last_submit + 30 * 86400
        now, next_pass, arrival = 0.0, 0.0, 0
        interval = pass_interval(self.policy, self.config.pass_interval_s)
        timeline: list[tuple[float, int, int, int]] = []
        while now <= limit:
            self.cluster.finish_due(now)
            self.cluster.interrupt_due(now)
            while arrival < len(self.jobs) and self.jobs[arrival].submit <= now:
                self.cluster.submit(self.jobs[arrival])
                arrival += 1
            self.cluster.schedule(now)
            if now >= next_pass:
                self.act(self.decide(now), now)
                self.cluster.schedule(now)
                timeline.append(self._sample(now))
                next_pass = now + interval
                if on_pass is not None:
                    on_pass(now)
                if arrival >= len(self.jobs) and self._drained(now):
                    break
            now = self._next_event(now, next_pass, arrival)
        for node in list(self.cluster.nodes):
            self.cluster.retire(node, now)
        unfinished = sum(1 for r in self.cluster.records.values() if r.end is None)
        return SimResult(
            name,
            list(self.cluster.records.values()),
            self.cluster.retired,
            now,
            timeline,
            unfinished,
        )

    def _drained(self, now: float) -> bool:
        """All work done and no cloud VM left to bill: later passes change nothing. A
        policy that never retires idle VMs (Slurm's default SuspendTime) is stopped, and
        its VMs billed, ``TAIL_S`` after the last job ended, as every policy would be."""
        nodes = self.cluster.nodes.values()
        if any(self.cluster.waiting.values()) or any(n.running for n in nodes):
            return False
        if any(r.end > now for r in self.reservations):
            return False  # a reservation still to come or under way
        ended = max((r.end or 0.0 for r in self.cluster.records.values()), default=0.0)
        return now - ended >= TAIL_S or all(n.spec.provider is ProviderKind.LIBVIRT for n in nodes)

    def _sample(self, now: float) -> tuple[float, int, int, int]:
        local = sum(
            1 for n in self.cluster.nodes.values() if n.spec.provider is ProviderKind.LIBVIRT
        )
        cloud = len(self.cluster.nodes) - local
        return now, len(self.cluster.pending(now)), local, cloud
