"""Run every policy on the same workload and check the targets the project set itself.

Layer: orchestration of pure simulations (no I/O but the optional progress bar).
Local capacity is scaled to a fraction of the workload's peak demand, so every
workload meets the same pressure ("local capacity at 0.75 of peak").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from elastic.config import HostConfig, Site
from elastic.sim.baselines import POLICIES
from elastic.sim.bounds import fluid_bound_cost, overflow_bound_cost
from elastic.sim.engine import SimConfig, SimResult, Simulation
from elastic.sim.metrics import Metrics, compute
from elastic.sim.workload import SimJob

IDLE_TARGET = "idle billed cloud (ready, no job) ≤10 % of billed"
CHURN_TARGET = "<5 % of VMs live <10 min"


def peak_demand_cores(jobs: Sequence[SimJob]) -> int:
    """The most cores that jobs submitted so far and not yet done would need at once,
    if each started on submission (an upper envelope of demand)."""
    events = sorted(
        [(j.submit, j.cores) for j in jobs] + [(j.submit + j.runtime, -j.cores) for j in jobs]
    )
    peak = level = 0
    for _, delta in events:
        level += delta
        peak = max(peak, level)
    return peak


def scaled_site(site: Site, jobs: Sequence[SimJob], local_scale: float) -> Site:
    """The site with its local hosts replaced by ``local_scale`` × peak demand of cores."""
    template = site.local.hosts[0]
    flavor = max(vo.flavor.cores for vo in site.vos)
    per_host = max(template.cores - template.reserved_cores, flavor)
    wanted = max(flavor, int(peak_demand_cores(jobs) * local_scale))
    count = max(1, round(wanted / per_host))
    memory_per_core = template.memory_mb / template.cores
    hosts = [
        HostConfig(
            name=f"sim{i:04d}",
            uri="sim://",
            cores=per_host,
            memory_mb=int(per_host * max(memory_per_core, 2048)),
        )
        for i in range(count)
    ]
    return site.model_copy(update={"local": site.local.model_copy(update={"hosts": hosts})})


@dataclass(frozen=True)
class Comparison:
    metrics: dict[str, Metrics]
    results: dict[str, SimResult]
    lower_bound: float  # bounds.overflow_bound_cost: the one the target is checked on
    fluid_bound: float  # bounds.fluid_bound_cost: any policy that never lets a job wait
    targets: list[tuple[str, bool, str]]


def run_all(
    site: Site,
    jobs: Sequence[SimJob],
    config: SimConfig,
    policies: Sequence[str] = tuple(POLICIES),
    step_at: float | None = None,
    on_done: Callable[[str], None] | None = None,
) -> Comparison:
    """Every policy on the same jobs; ``on_done(name)`` after each (a progress bar)."""
    results: dict[str, SimResult] = {}
    metrics: dict[str, Metrics] = {}
    for name in policies:
        policy, policy_site = POLICIES[name](site)
        run_config = config
        if name == "B0-static":  # the static cluster exists from the start
            run_config = replace(
                config, boot_delay_s={k: 0.0 for k in config.boot_delay_s}, boot_jitter=0.0
            )
        results[name] = Simulation(policy_site, jobs, policy, run_config).run(name)
        metrics[name] = compute(results[name], site, config, step_at)
        if on_done is not None:
            on_done(name)
    bound = overflow_bound_cost(jobs, site, site.policy.cloud_burst_after_s)
    fluid = fluid_bound_cost(jobs, site)
    return Comparison(metrics, results, bound, fluid, check_targets(metrics, bound))


def check_targets(m: dict[str, Metrics], bound: float) -> list[tuple[str, bool, str]]:
    """The targets, each met or not, with its figures. A run in which elastic left jobs
    unfinished, or finished none, is not comparable: every target is then missed."""
    if "elastic" not in m:
        return []
    e = m["elastic"]
    checks = _targets(m, bound)
    if e.jobs == 0 or e.unfinished:
        why = "no jobs" if e.jobs == 0 else f"elastic left {e.unfinished} job(s) unfinished"
        return [(label, False, f"{detail}; not comparable: {why}") for label, _, detail in checks]
    return checks


def _targets(m: dict[str, Metrics], bound: float) -> list[tuple[str, bool, str]]:
    e = m["elastic"]
    out: list[tuple[str, bool, str]] = []
    if "B4-starcluster" in m:
        b4 = m["B4-starcluster"]
        ok = e.p95_wait_s <= 0.7 * b4.p95_wait_s and e.cloud_cost <= b4.cloud_cost + 1e-9
        ok = ok and not b4.unfinished  # a baseline that did not finish is no yardstick
        out.append(
            (
                "p95 wait ≥30 % below B4 at ≤ cost",
                ok,
                f"p95 {e.p95_wait_s:.0f} s vs {b4.p95_wait_s:.0f} s; "
                f"cost {e.cloud_cost:.2f} vs {b4.cloud_cost:.2f}",
            )
        )
    if "B2-always-cloud" in m:
        b2 = m["B2-always-cloud"]
        ok = e.cloud_cost <= 0.5 * b2.cloud_cost and e.awrt_s <= 1.1 * b2.awrt_s
        ok = ok and not b2.unfinished
        out.append(
            (
                "cost ≥50 % below B2, AWRT within 10 %",
                ok,
                f"cost {e.cloud_cost:.2f} vs {b2.cloud_cost:.2f}; "
                f"AWRT {e.awrt_s:.0f} s vs {b2.awrt_s:.0f} s",
            )
        )
    out.append(
        (
            "cost within 1.25× offline lower bound",
            e.cloud_cost <= 1.25 * bound + 1e-9,
            f"cost {e.cloud_cost:.2f} vs bound {bound:.2f}",
        )
    )
    boot_share = e.boot_billed_cloud_h / e.billed_cloud_h if e.billed_cloud_h else 0.0
    out.append(
        (
            IDLE_TARGET,
            e.idle_share <= 0.10,
            f"{e.idle_share:.1%} of {e.billed_cloud_h:.1f} h; boot time another {boot_share:.1%}",
        )
    )
    out.append(
        (
            CHURN_TARGET,
            e.churn < 0.05,
            f"{e.short_lived_vms} of {e.boots} ({e.churn:.1%})",
        )
    )
    return out


def table(comparison: Comparison) -> str:
    headers = [
        "policy",
        "mean wait s",
        "p95 wait s",
        "AWRT s",
        "bsld",
        "cloud $",
        "idle cloud h",
        "boot cloud h",
        "idle local h",
        "boots",
        "<10min",
        "unfinished",
    ]
    rows = [headers]
    for name, m in comparison.metrics.items():
        rows.append(
            [
                name,
                f"{m.mean_wait_s:.0f}",
                f"{m.p95_wait_s:.0f}",
                f"{m.awrt_s:.0f}",
                f"{m.bounded_slowdown:.2f}",
                f"{m.cloud_cost:.2f}",
                f"{m.idle_billed_cloud_h:.2f}",
                f"{m.boot_billed_cloud_h:.2f}",
                f"{m.idle_local_h:.1f}",
                str(m.boots),
                str(m.short_lived_vms),
                str(m.unfinished),
            ]
        )
    lines = ["| " + " | ".join(r) + " |" for r in rows]
    lines.insert(1, "|" + "---|" * len(headers))
    lines.append("")
    lines.append(
        f"offline lower bound on cloud cost: {comparison.lower_bound:.2f} (jobs that cannot "
        f"start locally within cloud_burst_after_s, at their cheapest cloud time); "
        f"zero-wait fluid bound: {comparison.fluid_bound:.2f}"
    )
    spot = [m for m in comparison.metrics.values() if m.interrupted_vms]
    if spot:
        lines.append(
            "spot interruptions: "
            + "; ".join(
                f"{m.policy} {m.interrupted_vms} VMs, {m.requeued_jobs} job starts lost"
                for m in spot
            )
        )
    elastic = comparison.metrics.get("elastic")
    if elastic is not None and elastic.local_share:
        shares = ", ".join(
            f"{vo} {share:.0%} ({elastic.configured_share.get(vo, 0.0):.0%})"
            for vo, share in elastic.local_share.items()
        )
        lines.append(
            f"elastic's busy local core-time by VO (configured share among them): {shares}"
        )
    for label, ok, detail in comparison.targets:
        lines.append(f"- target {'MET' if ok else 'MISSED'}: {label} ({detail})")
    return "\n".join(lines)
