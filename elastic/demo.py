"""``elastic demo``: the daemon over the embedded site, in one process, on a fresh state.

Layer: entry point. The embedded site keeps its hypervisors (libvirt's test
driver) and its cloud (an embedded moto server) in memory, so a scale-up and
scale-down can only be watched within one process: this runs the real daemon
loop for a bounded number of passes against a throw-away ledger and prints one
line per pass. Nothing here is demo-only logic: it is ``elastic daemon`` with a
temporary state directory and a progress line.
"""

from __future__ import annotations

import argparse
import tempfile
from collections import Counter
from pathlib import Path

from elastic.config import load_site
from elastic.engine import PassResult, run_locked
from elastic.model import ProviderKind


def _line(number: int, result: PassResult) -> str:
    observation = result.observation
    pending = sum(j.count for j in observation.jobs if j.runnable and not j.running)
    where: Counter[str] = Counter()
    for node in observation.nodes:
        where["local" if node.provider is ProviderKind.LIBVIRT else "cloud"] += 1
    kinds = Counter(a.kind for a in (*result.plan.actions, *result.followup))
    failed = sum(1 for r in result.results if not r.ok)
    acted = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "nothing to do"
    return (
        f"pass {number:2d}: pending jobs {pending:3d} | nodes local {where['local']:2d} "
        f"cloud {where['cloud']:2d} | {acted}" + (f" ({failed} failed)" if failed else "")
    )


def cmd_demo(args: argparse.Namespace) -> int:
    from elastic.daemon import run_daemon  # APScheduler: not loaded by every other command
    from elastic.wiring import build_engine

    site = load_site(args.config)
    with tempfile.TemporaryDirectory(prefix="elastic-demo-") as scratch:
        state = Path(scratch) / "elastic.db"
        site = site.model_copy(update={"site": site.site.model_copy(update={"state": str(state)})})
        engine = build_engine(site)
        count = [0]

        def one_pass() -> None:
            result = run_locked(site, engine)
            count[0] += 1
            print(_line(count[0], result), flush=True)

        print(f"elastic demo: site {site.site.name}, a pass every {args.interval:g} s")
        run_daemon(one_pass, args.interval, max_passes=args.passes)
        leftover = engine.ledger.nodes()
        print(f"demo done: {len(leftover)} node(s) still live; ledger was {state}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="watch a scale-up and scale-down on the embedded site (fresh state, one process)",
    )
    parser.add_argument("--passes", type=int, default=30, help="passes to run (default 30)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="seconds between passes (default 1)"
    )
    parser.set_defaults(func=cmd_demo)
