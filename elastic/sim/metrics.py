"""Decision-quality metrics of a simulation run (formulas in docs/simulator.md).

Layer: pure. Waits and response times count only jobs that finished; a run
that leaves jobs unfinished reports how many.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from elastic.config import Site
from elastic.model import ProviderKind
from elastic.sim.engine import SimConfig, SimResult

CHURN_S = 600.0


@dataclass(frozen=True)
class Metrics:
    policy: str
    jobs: int
    unfinished: int
    mean_wait_s: float
    p95_wait_s: float
    awrt_s: float
    bounded_slowdown: float
    cloud_cost: float
    billed_cloud_h: float
    idle_billed_cloud_h: float  # ready and running no job
    boot_billed_cloud_h: float  # from launch until ready
    idle_local_h: float
    boots: int
    short_lived_vms: int
    interrupted_vms: int  # spot reclaims
    requeued_jobs: int  # job starts lost to them
    local_share: dict[str, float]
    #: ``vos[].share`` of the same VOs, normalised among them: what local_share is held to
    configured_share: dict[str, float]
    time_to_capacity_s: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @property
    def idle_share(self) -> float:
        """Billed cloud time ready and running nothing, as a share of all billed."""
        return self.idle_billed_cloud_h / self.billed_cloud_h if self.billed_cloud_h else 0.0

    @property
    def churn(self) -> float:
        """Share of the VMs that lived less than ten minutes."""
        return self.short_lived_vms / self.boots if self.boots else 0.0


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _billed(node_seconds: float, config: SimConfig) -> float:
    return max(node_seconds, config.billing_minimum_s)


def compute(
    result: SimResult, site: Site, config: SimConfig, step_at: float | None = None
) -> Metrics:
    done = [r for r in result.jobs if r.start is not None and r.end is not None]
    waits = [r.start - r.job.submit for r in done if r.start is not None]
    weights = [r.job.runtime * r.job.cores for r in done]
    responses = [(r.end or 0.0) - r.job.submit for r in done]
    awrt = sum(w * t for w, t in zip(weights, responses, strict=True)) / (sum(weights) or 1.0)
    slowdown = [
        max(1.0, t / max(r.job.runtime, 10.0)) for r, t in zip(done, responses, strict=True)
    ]
    cost = billed = idle_cloud = boot_cloud = idle_local = 0.0
    short = 0
    local_core_s: dict[str, float] = defaultdict(float)
    for node in result.nodes:
        gone = node.destroyed or result.end
        life = gone - node.launched
        short += life < CHURN_S
        idle = max(0.0, life - node.busy_seconds)
        if node.spec.provider is ProviderKind.EC2:
            seconds = _billed(life, config)
            boot = min(node.ready_at, gone) - node.launched
            billed += seconds
            cost += seconds / 3600 * node.spec.hourly_cost
            boot_cloud += boot
            idle_cloud += max(0.0, seconds - boot - node.busy_seconds)
        else:
            idle_local += idle
            local_core_s[node.spec.vo] += node.busy_seconds * node.spec.cores
    total_local = sum(local_core_s.values()) or 1.0
    return Metrics(
        policy=result.policy,
        jobs=len(result.jobs),
        unfinished=result.unfinished,
        mean_wait_s=sum(waits) / len(waits) if waits else 0.0,
        p95_wait_s=percentile(waits, 0.95),
        awrt_s=awrt,
        bounded_slowdown=sum(slowdown) / len(slowdown) if slowdown else 0.0,
        cloud_cost=cost,
        billed_cloud_h=billed / 3600,
        idle_billed_cloud_h=idle_cloud / 3600,
        boot_billed_cloud_h=boot_cloud / 3600,
        idle_local_h=idle_local / 3600,
        boots=len(result.nodes),
        short_lived_vms=short,
        interrupted_vms=sum(1 for n in result.nodes if n.interrupted),
        requeued_jobs=sum(r.restarts for r in result.jobs),
        local_share={vo: s / total_local for vo, s in sorted(local_core_s.items())},
        configured_share=_configured_share(site, local_core_s),
        time_to_capacity_s=_time_to_capacity(result, step_at),
    )


def _configured_share(site: Site, used: dict[str, float]) -> dict[str, float]:
    """The configured shares of the VOs that ran locally, as fractions of their sum: a VO
    without jobs claims no room, so the others' shares are what their split is held to."""
    shares = {vo.name: float(vo.share) for vo in site.vos if vo.name in used}
    total = sum(shares.values()) or 1.0
    return {vo: share / total for vo, share in sorted(shares.items())}


def _time_to_capacity(result: SimResult, step_at: float | None) -> float | None:
    """After a step at ``step_at``: until 95 % of the jobs submitted with it have started."""
    if step_at is None:
        return None
    step = sorted(
        r.start for r in result.jobs if r.start is not None and abs(r.job.submit - step_at) < 1.0
    )
    if not step:
        return None
    return percentile(step, 0.95) - step_at
