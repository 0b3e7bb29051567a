"""Fixed thresholds against `auto` ones, over the grid's boot axis (issue 15).

elastic alone, on the bench site of benchmarks/grid.py at one scale, pass interval and
seed per cell, with its three rent-or-buy keys set several ways: the bench site's numbers
(burst 120 s, cloud idle 120 s, local idle 900 s), the schema's defaults (0, 300, 900),
all three `auto`, each key `auto` alone, and the defaults with the cloud idle timeout
`auto`. Prints cloud cost and p95 wait
per cell and variant, and writes them as JSON. Not part of ./scripts/bench: it answers
whether `auto` may become the default (docs/thresholds.md has the figures).

    .venv/bin/python -m benchmarks.bench_thresholds --workloads poisson diurnal nasa-ipsc-1993
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.grid import NASA, TRACE, Cell, cell_site, jobs_for, site_for
from elastic.config import Site
from elastic.sim.baselines import SCALERS
from elastic.sim.compare import p95_or_inf, run_all
from elastic.sim.workload import from_swf, spread

BENCH = {"cloud_burst_after_s": 120, "idle_timeout_cloud_s": 120, "idle_timeout_local_s": 900}
AUTO = dict.fromkeys(BENCH, "auto")
VARIANTS: dict[str, dict[str, Any]] = {
    "bench": BENCH,
    "defaults": {
        "cloud_burst_after_s": 0,
        "idle_timeout_cloud_s": 300,
        "idle_timeout_local_s": 900,
    },
    "auto": AUTO,
    # one key auto at a time, the others the bench site's: what each rule is worth
    "auto-cloud": {**BENCH, "idle_timeout_cloud_s": "auto"},
    "auto-local": {**BENCH, "idle_timeout_local_s": "auto"},
    "auto-burst": {**BENCH, "cloud_burst_after_s": "auto"},
    # the schema's defaults with the cloud idle timeout auto
    "defaults+cloud": {
        "cloud_burst_after_s": 0,
        "idle_timeout_cloud_s": "auto",
        "idle_timeout_local_s": 900,
    },
}


def with_policy(site: Site, changes: dict[str, Any]) -> Site:
    return site.model_copy(update={"policy": site.policy.model_copy(update=changes)})


def run(
    workloads: Sequence[str],
    boots: Sequence[float],
    nasa_jobs: int,
    hours: float,
    variants: Sequence[str],
    baselines: Sequence[str] = (),
    scale: float = 0.75,
    pass_s: float = 60.0,
    seed: int = 1,
) -> list[dict[str, Any]]:
    rows = []
    for workload in workloads:
        site = site_for(workload)
        if workload == NASA:
            jobs, left_out = spread(from_swf(TRACE, site.vos, limit=nasa_jobs), site.vos)
        else:
            jobs, left_out = jobs_for(workload, site, seed, hours)
        for boot in boots:
            run_site, config = cell_site(site, jobs, Cell(workload, scale, boot, pass_s, seed))
            runs = [(name, with_policy(run_site, VARIANTS[name]), "elastic") for name in variants]
            runs += [(name, run_site, name) for name in baselines]  # their own rules
            for name, vsite, policy in runs:
                started = time.perf_counter()
                m = run_all(vsite, jobs, config, (policy,), left_out=left_out).metrics[policy]
                rows.append(
                    {
                        "workload": workload,
                        "boot_s": boot,
                        "variant": name,
                        "jobs": len(jobs),
                        "left_out": left_out,
                        "cost": round(m.cloud_cost, 2),
                        "p95_wait_s": round(p95_or_inf(m), 1),
                        "mean_wait_s": round(m.mean_wait_s, 1),
                        "idle_billed_h": round(m.idle_billed_cloud_h, 2),
                        "billed_h": round(m.billed_cloud_h, 2),
                        "idle_local_h": round(m.idle_local_h, 2),
                        "boots": m.boots,
                        "unfinished": m.unfinished,
                        "cpu_s": round(time.perf_counter() - started, 1),
                    }
                )
                r = rows[-1]
                print(
                    f"{workload:>15} boot {boot:>4.0f} {name:>14}: ${r['cost']:>8.2f} "
                    f"p95 {r['p95_wait_s']:>8.1f} s mean {r['mean_wait_s']:>7.1f} s "
                    f"idle {r['idle_billed_h']:>6.2f}/{r['billed_h']:>7.2f} h "
                    f"idle local {r['idle_local_h']:>7.2f} h boots {r['boots']:>5} "
                    f"({r['cpu_s']} s)",
                    flush=True,
                )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=["poisson", "diurnal", NASA])
    parser.add_argument("--boots", nargs="+", type=float, default=[60.0, 120.0, 180.0, 600.0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--baselines", nargs="*", default=[], choices=list(SCALERS))
    parser.add_argument("--nasa-jobs", type=int, default=3000, help="first N jobs of the trace")
    parser.add_argument("--hours", type=float, default=4.0, help="synthetic workloads' span")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    rows = run(
        args.workloads,
        args.boots,
        args.nasa_jobs,
        args.hours,
        args.variants,
        args.baselines,
        seed=args.seed,
    )
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)


if __name__ == "__main__":
    main()
