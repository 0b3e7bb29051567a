"""The simulated LRM: worker VMs and an FCFS scheduler with EASY backfill, per VO.

Layer: pure simulation state. Jobs of a VO run only on that VO's ready, not
draining, nodes (each VO is its own virtual cluster). Scheduling is FCFS with
EASY backfill: the first waiting job of a VO that does not fit gets a
reservation on the node where it could start earliest (given the running jobs'
end times, which the model knows exactly); later jobs may start ahead of it on
any other node, or on that node only if they end before the reservation.
A job that fits several nodes goes to a local one before a cloud one, then to
the fullest: elastic registers cloud workers as the LRM's last choice (Slurm
weight, SGE sequence number, PBS priority), so that they fall idle first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from elastic.model import NodeSpec, ProviderKind
from elastic.sim.workload import SimJob


@dataclass
class SimNode:
    """A simulated worker: the NodeSpec its Boot asked for, and what has happened to it."""

    spec: NodeSpec
    launched: float
    ready_at: float
    draining: bool = False
    destroyed: float | None = None
    running: dict[int, tuple[int, float]] = field(default_factory=dict)  # job -> (cores, end)
    idle_since: float | None = None
    busy_seconds: float = 0.0
    _busy_from: float | None = None
    interrupt_at: float | None = None  # a spot VM's reclaim, drawn at launch
    interrupted: bool = False

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def free_cores(self) -> int:
        return self.spec.cores - sum(c for c, _ in self.running.values())

    def ready(self, now: float) -> bool:
        return now >= self.ready_at

    def start(self, job: SimJob, now: float) -> None:
        if not self.running:
            self._busy_from = now
        self.running[job.id] = (job.cores, now + job.runtime)
        self.idle_since = None

    def finish(self, job_id: int, now: float) -> None:
        del self.running[job_id]
        if not self.running and self._busy_from is not None:
            self.busy_seconds += now - self._busy_from
            self._busy_from = None
            self.idle_since = now


@dataclass
class JobRecord:
    job: SimJob
    start: float | None = None
    end: float | None = None
    node: str = ""
    restarts: int = 0  # times a spot interruption sent it back to the queue


class Cluster:
    """Nodes plus the queue; ``schedule`` starts what can start now."""

    def __init__(self) -> None:
        self.nodes: dict[str, SimNode] = {}
        self.retired: list[SimNode] = []
        self.waiting: dict[str, list[SimJob]] = defaultdict(list)
        self.records: dict[int, JobRecord] = {}

    def submit(self, job: SimJob) -> None:
        self.waiting[job.vo].append(job)
        self.records[job.id] = JobRecord(job)

    def finish_due(self, now: float) -> None:
        for node in self.nodes.values():
            for job_id, (_, end) in list(node.running.items()):
                if end <= now:
                    node.finish(job_id, end)
                    self.records[job_id].end = end

    def interrupt_due(self, now: float) -> None:
        """Spot VMs whose reclaim time has come vanish; their jobs queue again, in
        submission order, and will start over (no checkpoints)."""
        due = [
            n for n in self.nodes.values() if n.interrupt_at is not None and n.interrupt_at <= now
        ]
        requeued: set[str] = set()
        for node in due:
            for job_id in list(node.running):
                node.finish(job_id, now)
                record = self.records[job_id]
                record.start, record.node = None, ""
                record.restarts += 1
                self.waiting[record.job.vo].append(record.job)
                requeued.add(record.job.vo)
            node.interrupted = True
            self.retire(node.id, now)
        for vo in requeued:
            self.waiting[vo].sort(key=lambda j: (j.submit, j.id))

    def next_end(self) -> float | None:
        ends = [end for n in self.nodes.values() for _, end in n.running.values()]
        return min(ends) if ends else None

    def _usable(self, vo: str, now: float) -> list[SimNode]:
        return [
            n for n in self.nodes.values() if n.spec.vo == vo and n.ready(now) and not n.draining
        ]

    def schedule(self, now: float) -> None:
        for vo, queue in self.waiting.items():
            if queue:
                self.waiting[vo] = self._easy(queue, self._usable(vo, now), now)

    def _easy(self, queue: list[SimJob], nodes: list[SimNode], now: float) -> list[SimJob]:
        left: list[SimJob] = []
        reserved: tuple[SimNode, float] | None = None
        for job in queue:
            fits = [n for n in nodes if n.free_cores >= job.cores]
            if reserved is not None:
                node, shadow = reserved
                fits = [n for n in fits if n is not node or now + job.runtime <= shadow]
            if fits:
                target = min(
                    fits, key=lambda n: (n.spec.provider is ProviderKind.EC2, n.free_cores)
                )
                target.start(job, now)
                record = self.records[job.id]
                record.start, record.node = now, target.id
                continue
            if reserved is None:
                reserved = self._reservation(job, nodes)
            left.append(job)
        return left

    @staticmethod
    def _reservation(job: SimJob, nodes: list[SimNode]) -> tuple[SimNode, float] | None:
        best: tuple[SimNode, float] | None = None
        for node in nodes:
            if node.spec.cores < job.cores:
                continue
            free = node.free_cores
            for cores, end in sorted(node.running.values(), key=lambda r: r[1]):
                free += cores
                if free >= job.cores:
                    if best is None or end < best[1]:
                        best = (node, end)
                    break
        return best

    def pending(self, now: float) -> list[SimJob]:
        return [j for queue in self.waiting.values() for j in queue if j.submit <= now]

    def retire(self, node_id: str, now: float) -> None:
        node = self.nodes.pop(node_id)
        node.destroyed = now
        self.retired.append(node)
