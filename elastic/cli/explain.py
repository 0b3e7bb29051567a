"""``elastic explain [VO] [--job ID]``: why each VO got what it got, from a fresh dry run.

Layer: entry point. The observation and the plan are the engine's own (``run_pass`` with
``dry_run``), so what ``explain`` says is what a pass would do now; nothing is changed.
"""

from __future__ import annotations

import argparse
import sys

from elastic.cli.common import EXIT_CONFIG, EXIT_DEGRADED, EXIT_OK, Subparsers, site_of
from elastic.cli.passes import table_on_stdout
from elastic.explain import explain_job, explain_vo
from elastic.report import dumps


def cmd_explain(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    site = site_of(args)
    names = [vo.name for vo in site.vos]
    if args.vo is not None and args.vo not in names:
        print(f"no VO named {args.vo} in {site.source} (VOs: {', '.join(names)})", file=sys.stderr)
        return EXIT_CONFIG
    with table_on_stdout():  # the explanation says what the plan's log lines would
        engine = build_engine(site)
        now = engine.clock()
        result = engine.run_pass(dry_run=True)
    observation, decided = result.observation, result.plan
    data: list[dict[str, object]] = []
    lines: list[str] = [f"error: {e}" for e in result.errors]
    if args.job is not None:
        job = explain_job(args.job, observation, decided, site, now)
        data.append(job.json())
        lines += job.lines()
    else:
        for name in [args.vo] if args.vo else names:
            vo = explain_vo(name, observation, decided, site, now)
            data.append(vo.json())
            lines += [*vo.lines(), ""]
    lines += [f"note: {n}" for n in decided.notes]
    if args.json:
        print(dumps({"errors": list(result.errors), "explanations": data}))
    else:
        print("\n".join(lines).rstrip())
    return EXIT_DEGRADED if result.errors else EXIT_OK


def add_parser(sub: Subparsers) -> None:
    p = sub.add_parser(
        "explain",
        help="why each VO got what it got: demand, cover, each node short with its limit",
        description="Observe now, plan as a pass would (a dry run: nothing is changed) and "
        "explain it: for each VO (or the one named) its pending demand, what covers it, "
        "what would boot, and for every node it wants and does not get, the binding limit "
        "with its figures; with --job, which VO a job maps to (and by which match rule), "
        "whether it is demand, and what the plan does for its VO.",
    )
    p.add_argument("vo", nargs="?", help="explain only this VO")
    p.add_argument("--job", help="explain one job by its LRM id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_explain)
