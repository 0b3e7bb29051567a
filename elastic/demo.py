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
import time
from collections import Counter
from pathlib import Path

from elastic.cli.reserve import book
from elastic.config import Site, load_site
from elastic.engine import PassResult, run_locked
from elastic.ledger import Ledger
from elastic.model import ProviderKind, Reservation, ReservationState
from elastic.planning.reservations import describe_reservation


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


def _book_ahead(ledger: Ledger, site: Site, interval: float) -> Reservation | None:
    """Book what ``elastic reserve <last VO> --nodes 2`` would, from ten passes on for ten
    passes: the demo shows it booted ahead, kept to its end, then released."""
    vo = site.vos[-1].name
    now = time.time()
    start = now + 10 * interval
    booked = book(ledger, site, vo, 2, start, start + 10 * interval, now, name="demo")
    print(
        f"{booked.id}: {booked.state.value}: {booked.reason} "
        f"(booked as 'elastic reserve {vo} --nodes 2' would)"
    )
    return booked if booked.state is ReservationState.ACCEPTED else None


def cmd_demo(args: argparse.Namespace) -> int:
    from elastic.daemon import run_daemon  # APScheduler: not loaded by every other command
    from elastic.wiring import build_engine

    site = load_site(args.config)
    with tempfile.TemporaryDirectory(prefix="elastic-demo-") as scratch:
        state = Path(scratch) / "elastic.db"
        site = site.model_copy(update={"site": site.site.model_copy(update={"state": str(state)})})
        engine = build_engine(site)
        count = [0]
        booked = _book_ahead(engine.ledger, site, args.interval)
        seen = {booked.id: booked.state} if booked is not None else {}

        def one_pass() -> None:
            result = run_locked(site, engine)
            count[0] += 1
            print(_line(count[0], result), flush=True)
            for rid, state in seen.items():  # each step of the booked reservation's life
                now = engine.ledger.reservation(rid)
                if now is not None and now.state is not state:
                    seen[rid] = now.state
                    print(f"         {rid}: {describe_reservation(now, time.time())}")

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
