"""``elastic simulate``: replay a workload against elastic and the baselines.

Layer: entry point. Prints the metrics table and the targets, writes a JSON
result and a PNG plot next to ``--out``. The progress bar moves with simulated
time, over every policy's run (``-q`` hides it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tqdm import tqdm

from elastic.config import load_site
from elastic.model import ProviderKind
from elastic.sim.compare import run_all, scale_hosts
from elastic.sim.engine import SimConfig
from elastic.sim.policies import POLICIES
from elastic.sim.table import table
from elastic.sim.workload import SCENARIOS, from_swf, scenario, spread


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
    jobs, left_out = spread(jobs, site.vos)
    if not jobs:
        print(
            f"{left_out} job(s) left out: none needs as few workers as its VO may hold "
            "(max_nodes): nothing to simulate"
        )
        return 1
    scaled = scale_hosts(site, args.local_scale)
    policies = args.policy or list(POLICIES)
    if "elastic" not in policies:
        policies.insert(0, "elastic")
    boots = SimConfig().boot_delay_s
    if args.cloud_boot_s is not None:
        boots = {**boots, ProviderKind.EC2: args.cloud_boot_s}
    config = SimConfig(
        pass_interval_s=float(site.policy.pass_interval_s),
        boot_delay_s=boots,
        seed=args.seed,
        spot_interruptions_per_h=args.spot_interruptions_per_hour,
    )
    span_h = max(j.submit + j.runtime for j in jobs) / 3600
    with tqdm(
        total=round(len(policies) * span_h, 1),
        desc="simulated",
        unit="h",
        disable=args.quiet,
        bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} h {postfix}",
    ) as bar:

        def moved(name: str, now: float) -> None:
            done = policies.index(name) * span_h + min(now / 3600, span_h)
            if done - bar.n >= span_h / 200 or now / 3600 >= span_h:
                bar.set_postfix_str(name, refresh=False)
                bar.update(done - bar.n)

        comparison = run_all(
            scaled,
            jobs,
            config,
            policies,
            step_at=3600.0 if args.workload == "step" else None,
            on_pass=moved,
            left_out=left_out,
        )
    print(
        f"workload {args.workload}: {len(jobs)} jobs, {left_out} left out; "
        f"{len(scaled.local.hosts)} local hosts at {args.local_scale:g} of their size"
    )
    print(table(comparison))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(
        json.dumps(
            {
                "workload": args.workload,
                "jobs": len(jobs),
                "left_out": left_out,
                "local_scale": args.local_scale,
                "lower_bound_cost": comparison.lower_bound,
                "bound_wait_s": comparison.wait_limit_s,
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
        default=1.0,
        help="the site's own local hosts, each with this factor of its cores and memory "
        "(default 1: as configured)",
    )
    parser.add_argument(
        "--cloud-boot-s", type=float, help="seconds an EC2 worker takes to boot (default 120)"
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
