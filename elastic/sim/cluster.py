"""The simulated LRM: worker VMs and an FCFS scheduler with EASY backfill, per VO.

Layer: pure simulation state. Jobs of a VO run only on that VO's ready, not
draining, nodes (each VO is its own virtual cluster). Scheduling is FCFS with
EASY backfill: the first waiting job of a VO that does not fit gets a
reservation on the node where it could start earliest (given the running jobs'
end times, which the model knows exactly); later jobs may start ahead of it on
any other node, or on that node only if they end before the reservation.
A job of ``nodes`` workers starts when that many nodes each have its per-node
share free, and reserves the ``nodes`` nodes that free it earliest; the one-node
case is exactly the rule above. A job that fits several nodes goes to a local one
before a cloud one, then to the fullest: elastic registers cloud workers as the
LRM's last choice (Slurm weight, SGE sequence number, PBS priority), so that they
fall idle first.
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
        self.running[job.id] = (job.cores_per_node, now + job.runtime)
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
    node: str = ""  # the workers it ran on, comma-separated
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
                record = self.records[job_id]
                for name in record.node.split(","):  # a job spanning workers dies on all
                    if name in self.nodes and job_id in self.nodes[name].running:
                        self.nodes[name].finish(job_id, now)
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
        reserved: tuple[set[str], float] | None = None
        free = {n.id: n.free_cores for n in nodes}
        most = max(free.values(), default=0)  # a job wider than this fits nowhere: skip fast
        for job in queue:
            share = job.cores_per_node
            fits = [n for n in nodes if free[n.id] >= share] if share <= most else []
            if reserved is not None:
                held, shadow = reserved
                fits = [n for n in fits if n.id not in held or now + job.runtime <= shadow]
            if len(fits) >= job.nodes:
                fits.sort(key=lambda n: (n.spec.provider is ProviderKind.EC2, free[n.id]))
                targets = fits[: job.nodes]
                for target in targets:
                    target.start(job, now)
                    free[target.id] -= share
                most = max(free.values(), default=0)
                record = self.records[job.id]
                record.start, record.node = now, ",".join(t.id for t in targets)
                continue
            if reserved is None:
                reserved = self._reservation(job, nodes)
            left.append(job)
        return left

    @staticmethod
    def _reservation(job: SimJob, nodes: list[SimNode]) -> tuple[set[str], float] | None:
        """The ``job.nodes`` nodes that free the job's share earliest, and when the last
        of them does; None if fewer nodes than that could ever hold it."""
        share = job.cores_per_node
        frees: list[tuple[float, str]] = []
        for node in nodes:
            if node.spec.cores < share:
                continue
            free = node.free_cores
            if free >= share:
                frees.append((0.0, node.id))
                continue
            for cores, end in sorted(node.running.values(), key=lambda r: r[1]):
                free += cores
                if free >= share:
                    frees.append((end, node.id))
                    break
        if len(frees) < job.nodes:
            return None
        frees.sort()
        chosen = frees[: job.nodes]
        return {name for _, name in chosen}, chosen[-1][0]

    def pending(self, now: float) -> list[SimJob]:
        return [j for queue in self.waiting.values() for j in queue if j.submit <= now]

    def retire(self, node_id: str, now: float) -> None:
        node = self.nodes.pop(node_id)
        node.destroyed = now
        self.retired.append(node)
