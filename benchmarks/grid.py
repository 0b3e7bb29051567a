"""The sweep: each workload over a grid of site sizes, boot times, pass intervals and seeds.

Each cell runs elastic and every scaling baseline on the same jobs and the same site,
and keeps the figures the summary compares: cloud cost and p95 wait (infinite for a run
that left jobs unfinished), per policy. Cells run in worker processes (``workers``).
The site's own settings (idle timeouts, burst delay, boot timeout) are the bench site's
in every cell: the grid changes the world the site meets, not the site.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from elastic.config import Site, load_site
from elastic.model import ProviderKind
from elastic.sim.baselines import SCALERS
from elastic.sim.compare import (
    TIE_COST,
    TIE_WAIT_S,
    cost_ok,
    p95_or_inf,
    pareto_ok,
    ratio,
    run_all,
    wait_ok,
)
from elastic.sim.compare import scaled_site as sized
from elastic.sim.engine import SimConfig
from elastic.sim.metrics import Metrics
from elastic.sim.workload import SCENARIOS, SimJob, from_swf, scenario, spread

REPO = Path(__file__).resolve().parent.parent
SITE = REPO / "benchmarks/site-bench.yaml"
TRACE = REPO / "benchmarks/traces/NASA-iPSC-1993-3.1-cln.swf.gz"
NASA = "nasa-ipsc-1993"
#: workloads whose workers are 32 cores (NASA's nodes are 32 of its 128; mixed asks 32)
WIDE = {NASA: "c6i.8xlarge", "mixed": "c6i.8xlarge"}
#: vCPUs and memory (MiB) of the instance types the bench prices (AWS's published sizes);
#: each flavor is checked against its type before anything runs
INSTANCE_SIZES = {"c5.2xlarge": (8, 16384), "c6i.8xlarge": (32, 65536)}

SCALES = (0.5, 0.75, 1.0)
BOOTS_S = (60.0, 180.0, 600.0)
PASSES_S = (30.0, 60.0, 300.0)
SEEDS = (1, 2, 3)
#: the full NASA trace (18,239 jobs over 92 days) takes ~100 s a cell: boots only
NASA_GRID = ((0.75,), BOOTS_S, (60.0,), (1,))
SYNTHETIC_HOURS = 4.0  # in the grid; the detailed point runs DETAIL_HOURS
DETAIL_HOURS = 12.0
POLICIES = ("elastic", *SCALERS)
#: not run there, each stopped after more than 6 minutes of CPU without finishing: on NASA,
#: slurm-default (ResumeTimeout 60 s below every boot) resumes and fails workers for all 92
#: days, and static (2 of 4 local workers for atlas) can never start atlas's 4-worker
#: jobs, so its queue runs to the horizon, 30 days past the last submission; the ablation
#: elastic-localonly did not end within 400 s either
SKIP = {NASA: ("slurm-default", "static", "elastic-localonly")}


def policies_for(workload: str, names: Sequence[str] = POLICIES) -> tuple[str, ...]:
    return tuple(n for n in names if n not in SKIP.get(workload, ()))


@dataclass(frozen=True)
class Cell:
    workload: str
    scale: float
    boot_s: float
    pass_s: float
    seed: int


@dataclass(frozen=True)
class CellResult:
    cell: Cell
    left_out: int
    cost: dict[str, float]
    p95: dict[str, float]  # infinite where the policy left jobs unfinished
    unfinished: dict[str, int]


def site_for(workload: str) -> Site:
    """The bench site; 32-core workers on a 32-vCPU type where the workload needs them."""
    site = load_site(SITE)
    if workload in WIDE:
        kind = WIDE[workload]
        cores, _ = INSTANCE_SIZES[kind]
        flavor = {"cores": cores, "memory_mb": 64000}
        vos = [
            vo.model_copy(update={"flavor": vo.flavor.model_copy(update=flavor)}) for vo in site.vos
        ]
        assert site.ec2 is not None
        # the wide type first (the baselines take the first, one type for every worker);
        # elastic sizes each worker to its jobs from the smaller ones too (docs/sizing.md)
        smaller = [t for t in site.ec2.instance_types.get(site.vos[0].name, []) if t != kind]
        types = {vo.name: [kind, *smaller] for vo in vos}
        ec2 = site.ec2.model_copy(update={"instance_types": types})
        site = site.model_copy(update={"vos": vos, "ec2": ec2})
    check_sizes(site)
    return site


def check_sizes(site: Site) -> None:
    """Every VO's flavor fits the instance types it is priced as (the site validator's own
    rule, ``Ec2Config.undersized``: a site changed by model_copy is not validated again)."""
    assert site.ec2 is not None
    for vo in site.vos:
        assert site.ec2.undersized(vo.name, vo.flavor) is None, vo.name


def jobs_for(workload: str, site: Site, seed: int, hours: float) -> tuple[list[SimJob], int]:
    """The workload's jobs, each spread on the workers it needs, and how many are left out."""
    if workload == NASA:
        return spread(from_swf(TRACE, site.vos), site.vos)
    return spread(scenario(workload, [vo.name for vo in site.vos], seed, hours), site.vos)


def cell_site(site: Site, jobs: Sequence[SimJob], cell: Cell) -> tuple[Site, SimConfig]:
    scaled = sized(site, jobs, cell.scale)
    policy = scaled.policy.model_copy(update={"pass_interval_s": int(cell.pass_s)})
    config = SimConfig(
        pass_interval_s=cell.pass_s,
        boot_delay_s={ProviderKind.LIBVIRT: 60.0, ProviderKind.EC2: cell.boot_s},
        seed=cell.seed,
    )
    return scaled.model_copy(update={"policy": policy}), config


def run_cell(cell: Cell) -> CellResult:
    site = site_for(cell.workload)
    jobs, left_out = jobs_for(cell.workload, site, cell.seed, SYNTHETIC_HOURS)
    run_site, config = cell_site(site, jobs, cell)
    m = run_all(run_site, jobs, config, policies_for(cell.workload), left_out=left_out).metrics
    return CellResult(
        cell,
        left_out,
        {k: v.cloud_cost for k, v in m.items()},
        {k: p95_or_inf(v) for k, v in m.items()},
        {k: v.unfinished for k, v in m.items()},
    )


def cells(workloads: Sequence[str] = (*SCENARIOS, NASA)) -> list[Cell]:
    out = []
    for workload in workloads:
        axes = NASA_GRID if workload == NASA else (SCALES, BOOTS_S, PASSES_S, SEEDS)
        out += [Cell(workload, *values) for values in itertools.product(*axes)]
    return out


def _metrics(result: CellResult, name: str) -> Metrics:
    """Just the two figures the comparison reads, as Metrics (the rest zero)."""
    return Metrics(
        policy=name,
        jobs=1,
        unfinished=result.unfinished[name],
        mean_wait_s=0.0,
        p95_wait_s=result.p95[name] if not result.unfinished[name] else 0.0,
        awrt_s=0.0,
        bounded_slowdown=0.0,
        cloud_cost=result.cost[name],
        billed_cloud_h=0.0,
        idle_billed_cloud_h=0.0,
        boot_billed_cloud_h=0.0,
        idle_local_h=0.0,
        boots=0,
        short_lived_vms=0,
        interrupted_vms=0,
        requeued_jobs=0,
        local_share={},
        configured_share={},
        time_to_capacity_s=None,
    )


@dataclass(frozen=True)
class Summary:
    """elastic against one baseline over one workload's cells."""

    baseline: str
    cells: int
    ahead: int  # cells where elastic is at least as good on cost and p95 (2 %)
    cost_median: float  # elastic / baseline
    cost_worst: float
    p95_median: float
    p95_worst: float
    left_out_cells: int  # cells with jobs left out: elastic is never ahead there
    as_cheap: int  # cells where elastic's cost alone is within 2 % of the baseline's
    as_fast: int  # cells where its p95 wait alone is
    ahead_by_scale: tuple[tuple[float, int, int], ...]  # (local scale, ahead, cells)


def ahead_in(result: CellResult, policy: str, baseline: str) -> bool:
    """``policy`` at least as good as ``baseline`` on cost and p95 in this cell (2 %),
    never where jobs were left out."""
    return not result.left_out and pareto_ok(_metrics(result, policy), _metrics(result, baseline))


def summarize(results: Sequence[CellResult], baseline: str) -> Summary:
    """Besides the ahead count, cost and wait apart and the count per local scale: where
    elastic is behind, whether on money or on wait, and whether only where the local
    hosts are short (the cloud is needed) or everywhere."""
    ahead = cheap = fast = 0
    costs, waits = [], []
    by_scale: dict[float, list[int]] = {}
    for r in results:
        e, b = _metrics(r, "elastic"), _metrics(r, baseline)
        won = ahead_in(r, "elastic", baseline)
        ahead += won
        cheap += not r.left_out and cost_ok(e, b)
        fast += not r.left_out and wait_ok(e, b)
        tally = by_scale.setdefault(r.cell.scale, [0, 0])
        tally[0] += won
        tally[1] += 1
        costs.append(ratio(r.cost["elastic"], r.cost[baseline], TIE_COST))
        waits.append(ratio(r.p95["elastic"], r.p95[baseline], TIE_WAIT_S))
    return Summary(
        baseline,
        len(results),
        ahead,
        statistics.median(costs),
        max(costs),
        statistics.median(waits),
        max(waits),
        sum(1 for r in results if r.left_out),
        cheap,
        fast,
        tuple((scale, won, n) for scale, (won, n) in sorted(by_scale.items())),
    )


def fmt_ratio(x: float) -> str:
    return "∞" if math.isinf(x) else f"{x:.2f}"
