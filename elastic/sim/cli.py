"""``elastic simulate``: replay a workload against elastic and the baselines.

Layer: entry point. Prints the metrics table and the targets, writes a JSON
result and a PNG plot next to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from elastic.config import load_site
from elastic.sim.baselines import POLICIES
from elastic.sim.compare import run_all, scaled_site, table
from elastic.sim.engine import SimConfig
from elastic.sim.workload import SCENARIOS, from_swf, placeable, scenario


def cmd_simulate(args: argparse.Namespace) -> int:
    site = load_site(args.site or args.config)
    vo_names = [vo.name for vo in site.vos]
    if args.workload in SCENARIOS:
        jobs = scenario(args.workload, vo_names, seed=args.seed, hours=args.hours)
    elif not Path(args.workload).is_file():
        raise SystemExit(  # one line, exit 2 (elastic.cli.main), not a traceback
            f"elastic simulate: --workload {args.workload}: no such file, nor a scenario "
            f"({', '.join(SCENARIOS)})"
        )
    else:
        jobs = from_swf(Path(args.workload), site.vos, limit=args.limit)
    jobs, left_out = placeable(jobs, site.vos)
    if left_out:
        print(f"{left_out} job(s) larger than their VO's worker flavor are left out (unplaceable)")
    if not jobs:
        print("no job of this workload fits a worker of its VO: nothing to simulate")
        return 1
    scaled = scaled_site(site, jobs, args.local_scale)
    policies = args.policy or list(POLICIES)
    if "elastic" not in policies:
        policies.insert(0, "elastic")
    config = SimConfig(
        pass_interval_s=float(site.policy.pass_interval_s),
        seed=args.seed,
        spot_interruptions_per_h=args.spot_interruptions_per_hour,
    )
    with tqdm(total=len(policies), desc="policies", unit="policy", disable=args.quiet) as bar:

        def done(name: str) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        comparison = run_all(
            scaled,
            jobs,
            config,
            policies,
            step_at=3600.0 if args.workload == "step" else None,
            on_done=done,
        )
    print(
        f"workload {args.workload}: {len(jobs)} jobs, {len(scaled.local.hosts)} local hosts "
        f"({args.local_scale:g} of peak demand)"
    )
    print(table(comparison))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "workload": args.workload,
                "jobs": len(jobs),
                "local_scale": args.local_scale,
                "lower_bound_cost": comparison.lower_bound,
                "fluid_bound_cost": comparison.fluid_bound,
                "metrics": {k: m.as_dict() for k, m in comparison.metrics.items()},
                "targets": [
                    {"target": t, "met": ok, "detail": d} for t, ok, d in comparison.targets
                ],
            },
            indent=2,
        )
    )
    from elastic.sim.plot import plot  # matplotlib: only when plotting, not in every cron pass

    plot(comparison.results, out.with_suffix(".png"), f"{args.workload} ({len(jobs)} jobs)")
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "simulate", help="replay a workload (SWF file or scenario) against elastic and baselines"
    )
    parser.add_argument("--site", help="site.yaml to simulate (default: --config)")
    parser.add_argument(
        "--workload",
        required=True,
        help=f"an SWF file (.swf, .swf.gz) or a scenario: {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--policy",
        action="append",
        choices=list(POLICIES),
        help="policies to compare (repeatable; default all)",
    )
    parser.add_argument(
        "--local-scale",
        type=float,
        default=0.75,
        help="local capacity as a fraction of peak demand (default 0.75)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the scenario's randomness")
    parser.add_argument(
        "--spot-interruptions-per-hour",
        type=float,
        default=0.0,
        metavar="RATE",
        help="mean spot reclaims per cloud VM-hour; jobs on a reclaimed VM start over (default 0)",
    )
    parser.add_argument("--hours", type=float, default=12.0, help="scenario length")
    parser.add_argument("--limit", type=int, help="first N jobs of an SWF trace")
    parser.add_argument("--out", default="var/simulate/result", help="JSON/PNG path stem")
    # -q/--quiet, common to every command, also hides the progress bar
    parser.set_defaults(func=cmd_simulate)
