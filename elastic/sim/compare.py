"""Run every policy on the same workload and check the targets the project set itself.

Layer: orchestration of pure simulations (no I/O). A target is met only by a run that
left no job out and finished every job; a cost target also needs the wait its bound
assumes. ``pareto_ok`` is the one comparison of elastic with a baseline, used by the
targets here and by the benchmark's sweep.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from elastic.config import HostConfig, Site
from elastic.model import ProviderKind
from elastic.planning.thresholds import burst_delay
from elastic.sim.baselines import SCALERS
from elastic.sim.bounds import fluid_bound_cost, overflow_bound_cost
from elastic.sim.engine import SimConfig, SimResult, Simulation, configured_boot_p95_s
from elastic.sim.metrics import Metrics, compute
from elastic.sim.policies import POLICIES, READY_AT_START
from elastic.sim.workload import SimJob

IDLE_TARGET = "idle billed cloud ≤10 % of billed"
CHURN_TARGET = "<5 % of VMs live <10 min"
BOUND_TARGET = "cost ≤{factor:g}× offline bound, its wait met"
PARETO_TARGET = "as good as every scaling baseline (cost and p95, 2 %)"
#: relative slack of "at least as good", and the absolute one below which figures are
#: equal as the table prints them (a cent, a second)
TIE = 0.02
TIE_COST = 0.01
TIE_WAIT_S = 1.0


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
    """The benchmark's site: hosts of the first host's shape, ``local_scale`` × the
    workload's peak demand of cores in all (so every workload meets the same pressure)."""
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


def scale_hosts(site: Site, factor: float) -> Site:
    """The site's own hosts, each with ``factor`` × its usable cores and memory (what
    ``elastic simulate --local-scale`` asks: this site, with more or less room)."""
    hosts = []
    for h in site.local.hosts:
        cores = h.reserved_cores + max(0, round((h.cores - h.reserved_cores) * factor))
        memory = h.reserved_memory_mb + max(0, round((h.memory_mb - h.reserved_memory_mb) * factor))
        hosts.append(h.model_copy(update={"cores": max(cores, 1), "memory_mb": max(memory, 1)}))
    return site.model_copy(update={"local": site.local.model_copy(update={"hosts": hosts})})


def p95_or_inf(m: Metrics) -> float:
    """p95 wait of a run, or infinity when it left jobs unfinished: their waits are at
    least the rest of the run, so the figure over finished jobs flatters it."""
    return math.inf if m.unfinished else m.p95_wait_s


def pareto_ok(e: Metrics, b: Metrics) -> bool:
    """elastic at least as good as ``b`` on cloud cost and on p95 wait, each within
    ``TIE`` (2 %) or the printed rounding."""
    return cost_ok(e, b) and wait_ok(e, b)


def cost_ok(e: Metrics, b: Metrics) -> bool:
    """``e`` at most as dear as ``b``, within ``TIE`` or a cent."""
    return e.cloud_cost <= b.cloud_cost * (1 + TIE) + TIE_COST


def wait_ok(e: Metrics, b: Metrics) -> bool:
    """``e``'s p95 wait at most ``b``'s, within ``TIE`` or a second."""
    return p95_or_inf(e) <= p95_or_inf(b) * (1 + TIE) + TIE_WAIT_S


def ratio(e: float, b: float, tie: float) -> float:
    """e / b, with the printed rounding added to both so that zeros compare."""
    if math.isinf(b):
        return 1.0 if math.isinf(e) else 0.0
    if math.isinf(e):
        return math.inf
    return (e + tie) / (b + tie)


@dataclass(frozen=True)
class Comparison:
    metrics: dict[str, Metrics]
    results: dict[str, SimResult]
    lower_bound: float  # bounds.overflow_bound_cost: the one the target is checked on
    fluid_bound: float  # bounds.fluid_bound_cost: any policy that never lets a job wait
    targets: list[tuple[str, bool, str]]
    left_out: int = 0  # jobs no worker count holds: never simulated, every target missed
    wait_limit_s: float = 0.0  # the p95 wait the bound's assumption allows
    notes: list[str] = field(default_factory=list)


def wait_limit(site: Site, config: SimConfig) -> float:
    """The wait the offline bound assumes, as a policy can at best deliver it: a job
    that overflows waits ``cloud_burst_after_s``, up to one pass to be seen, and a boot."""
    boot = config.boot_delay_s.get(ProviderKind.EC2, 0.0) * (1 + config.boot_jitter)
    return float(burst_after_s(site, config)) + config.pass_interval_s + boot


def burst_after_s(site: Site, config: SimConfig) -> int:
    """The site's burst delay, derived from the run's boot time where it is ``auto``."""
    return burst_delay(site, configured_boot_p95_s(config)).seconds


def run_all(
    site: Site,
    jobs: Sequence[SimJob],
    config: SimConfig,
    policies: Sequence[str] = tuple(POLICIES),
    step_at: float | None = None,
    on_pass: Callable[[str, float], None] | None = None,
    *,
    left_out: int = 0,
    bound_factor: float = 1.25,
) -> Comparison:
    """Every policy on the same jobs; ``on_pass(name, now)`` after each pass of each (a
    progress bar in simulated time)."""
    results: dict[str, SimResult] = {}
    metrics: dict[str, Metrics] = {}
    for name in policies:
        policy, policy_site = POLICIES[name](site)
        run_config = config
        if name in READY_AT_START:
            run_config = replace(
                config, boot_delay_s={k: 0.0 for k in config.boot_delay_s}, boot_jitter=0.0
            )
        tick = None if on_pass is None else (lambda now, n=name: on_pass(n, now))
        results[name] = Simulation(policy_site, jobs, policy, run_config).run(name, on_pass=tick)
        metrics[name] = compute(results[name], site, config, step_at)
    bound = overflow_bound_cost(jobs, site, burst_after_s(site, config))
    fluid = fluid_bound_cost(jobs, site)
    limit = wait_limit(site, config)
    targets = check_targets(metrics, bound, left_out, limit, bound_factor)
    return Comparison(metrics, results, bound, fluid, targets, left_out, limit)


def check_targets(
    m: dict[str, Metrics],
    bound: float,
    left_out: int = 0,
    wait_limit_s: float = math.inf,
    bound_factor: float = 1.25,
) -> list[tuple[str, bool, str]]:
    """The targets, each met or not, with its figures. A workload with jobs left out, or
    a run in which elastic left jobs unfinished or finished none, meets none of them."""
    if "elastic" not in m:
        return []
    e = m["elastic"]
    checks = _targets(m, bound, wait_limit_s, bound_factor)
    why = ""
    if left_out:
        why = f"{left_out} job(s) left out"
    elif e.jobs == 0:
        why = "no jobs"
    elif e.unfinished:
        why = f"elastic left {e.unfinished} job(s) unfinished"
    if why:
        return [(label, False, f"{detail}; not comparable: {why}") for label, _, detail in checks]
    return checks


def _targets(
    m: dict[str, Metrics], bound: float, wait_limit_s: float, factor: float
) -> list[tuple[str, bool, str]]:
    e = m["elastic"]
    out: list[tuple[str, bool, str]] = []
    behind = [name for name in SCALERS if name in m and not pareto_ok(e, m[name])]
    compared = [name for name in SCALERS if name in m]
    if compared:
        detail = "behind " + ", ".join(behind) if behind else f"{len(compared)} compared"
        out.append((PARETO_TARGET, not behind, detail))
    cost_ok = e.cloud_cost <= factor * bound + 1e-9
    wait_ok = e.p95_wait_s <= wait_limit_s
    out.append(
        (
            BOUND_TARGET.format(factor=factor),
            cost_ok and wait_ok,
            f"cost {e.cloud_cost:.2f} vs bound {bound:.2f}; p95 wait {e.p95_wait_s:.0f} s "
            f"vs the bound's {wait_limit_s:.0f} s",
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
    out.append((CHURN_TARGET, e.churn < 0.05, f"{e.short_lived_vms} of {e.boots} ({e.churn:.1%})"))
    return out
