"""``elastic plan``, ``run-once``, ``daemon`` and ``status``: a pass, dry or real.

Layer: entry point (the engine through ``wiring``; printing through ``report``).
``plan`` and ``run-once`` print the plan as a table on stdout; while they run, the
log lines that repeat a row of it (each VO's decision, each planned action and each
action done) are not logged, so every action is printed once. What the table does not
show (a provider's VM id, a reconcile finding, every warning and error) is logged
as ever, and the daemon, which prints no table, logs them all.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from elastic.actuation import decisions
from elastic.cli.common import EXIT_DEGRADED, EXIT_OK, Subparsers, site_of
from elastic.engine import (
    MARK_LATEST_ACTIONS,
    MARK_LATEST_AT,
    MARK_LATEST_DEGRADED,
    MARK_LATEST_FAILED,
    Engine,
    PassLocked,
    run_locked,
)
from elastic.report import dumps, plan_json, plan_text
from elastic.status_report import LastPass, status_json, status_text

log = logging.getLogger(__name__)


@contextmanager
def table_on_stdout() -> Iterator[None]:
    """While a command prints the plan table, the log does not repeat its rows: the
    engine logs them on their own logger (``actuation.decisions``), turned down to
    warnings here."""
    level = decisions.level
    decisions.setLevel(logging.WARNING)
    try:
        yield
    finally:
        decisions.setLevel(level)


def cmd_plan(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    site = site_of(args)
    with table_on_stdout():
        result = build_engine(site).run_pass(dry_run=True)
    print(dumps(plan_json(result.plan)) if args.json else plan_text(result.plan))
    return EXIT_DEGRADED if result.errors else EXIT_OK


def cmd_run_once(args: argparse.Namespace) -> int:
    from elastic.metrics import textfile_metrics, timed_pass
    from elastic.wiring import build_engine

    site = site_of(args)
    engine = build_engine(site)
    with table_on_stdout(), textfile_metrics(site) as metrics:
        run = partial(run_locked, site, engine, hold_if_abandoned=True)
        result = timed_pass(metrics, run, engine.clock)
    for step in result.recovered:
        state = "done" if step.ok else f"FAILED: {step.error}"
        print(f"recovered {step.step.node_id} ({step.step.step}: {step.step.reason}): {state}")
    print(plan_text(result.plan))
    for destroy in result.followup:
        print(f"then destroy {destroy.node_id} ({destroy.vo}): {destroy.reason}")
    for failed in (r for r in result.results if not r.ok):
        print(f"FAILED {failed.action.kind} {failed.action.node_id}: {failed.error}")
    code = EXIT_DEGRADED if result.degraded else EXIT_OK
    _exit_if_abandoned(code)
    return code


def _exit_if_abandoned(code: int) -> None:
    """A call that never answered is left in a daemon thread: exit now, with the site
    lock still held until the process is gone, so no pass overlaps what it may do."""
    from elastic.deadline import abandoned_calls

    left = abandoned_calls()
    if not left:
        return
    log.error("%d call(s) did not answer by their deadline; exiting with them abandoned", left)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def cmd_daemon(args: argparse.Namespace) -> int:
    from elastic.daemon import run_daemon
    from elastic.metrics import ElasticRegistry, serve_metrics, timed_pass
    from elastic.wiring import build_engine

    site = site_of(args)
    engine = build_engine(site)
    interval = args.interval or site.policy.pass_interval_s
    metrics = ElasticRegistry(site)
    server = None
    if site.metrics.listen:  # a port taken costs the metrics (scrapes fail), not the passes
        try:
            server = serve_metrics(metrics, site.metrics.listen)
            log.info("daemon: metrics on http://%s/metrics", site.metrics.listen)
        except OSError as exc:
            log.error("metrics.listen %s: %s; no metrics served", site.metrics.listen, exc)

    def one_pass() -> None:
        try:
            timed_pass(metrics, partial(run_locked, site, engine), engine.clock)
        except PassLocked as exc:
            log.warning("%s; skipping this pass", exc)

    try:
        run_daemon(one_pass, interval, max_passes=args.passes)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return EXIT_OK


def _status(engine: Engine, as_json: bool) -> tuple[str, int]:
    """One observation, as the status text or JSON, and its exit code."""
    now = engine.clock()
    observation, observed, _ = engine.prepare(now)
    lrm_error = None
    if "lrm" in observed.failed:
        lrm_error = next((e for e in observed.errors if e.startswith("LRM ")), "not read")
    marks = [engine.ledger.mark(m) for m in (MARK_LATEST_AT, MARK_LATEST_DEGRADED)]
    last = None
    if marks[0] is not None:
        actions = engine.ledger.mark(MARK_LATEST_ACTIONS) or 0
        failed = engine.ledger.mark(MARK_LATEST_FAILED) or 0
        last = LastPass(marks[0], bool(marks[1]), int(actions), int(failed))
    show = status_json if as_json else status_text
    shown = show(
        observation, observed.errors, site=engine.site, last_pass=last, now=now, lrm_error=lrm_error
    )
    text = dumps(shown) if isinstance(shown, dict) else shown
    return text, EXIT_DEGRADED if observed.errors else EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    engine = build_engine(site_of(args))
    if args.watch is None:
        text, code = _status(engine, args.json)
        print(text)
        return code
    return _watch(engine, args.watch, args.count)


def _watch(engine: Engine, every_s: float, count: int | None) -> int:
    """Redraw the status every ``every_s`` seconds until Ctrl-C (or ``count`` frames): in
    place on a terminal (cursor home, clear screen: no dependency), frames one after the
    other elsewhere. Each frame observes afresh; nothing is acted on."""
    on_terminal = sys.stdout.isatty()
    frames = 0
    try:
        while count is None or frames < count:
            text, _ = _status(engine, as_json=False)
            if on_terminal:
                sys.stdout.write("\x1b[H\x1b[2J")
            elif frames:
                sys.stdout.write("\n")
            sys.stdout.write(f"{text}\n(every {every_s:g} s; Ctrl-C to stop)\n")
            sys.stdout.flush()
            frames += 1
            if count is None or frames < count:
                time.sleep(every_s)
    except KeyboardInterrupt:
        pass
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "plan",
        help="dry run: observe and print the actions a pass would take, with reasons",
        description="Observe the LRM and the providers and print what a pass would do now: "
        "each boot, drain and destroy with its reason, and one decision line per VO. "
        "Nothing is acted on.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plan)
    p = subparsers.add_parser(
        "run-once",
        help="one pass: observe, plan, act, record (for cron)",
        description="One pass under the site lock: finish what a killed pass left, observe, "
        "reconcile, plan, act and record. Prints the plan table, then what failed; exits 3 "
        "at once if another pass holds the lock, 4 if the pass ran degraded.",
    )
    p.set_defaults(func=cmd_run_once)
    p = subparsers.add_parser(
        "daemon",
        help="run passes every policy.pass_interval_s until SIGTERM/SIGINT",
        description="A pass every policy.pass_interval_s (one at a time, missed runs "
        "coalesced) until SIGTERM or SIGINT, which let the pass under way finish. Shares "
        "the site lock with cron's run-once.",
    )
    p.add_argument(
        "--interval",
        type=float,
        help="seconds between passes (default: policy.pass_interval_s of site.yaml)",
    )
    p.add_argument("--passes", type=int, help="stop after this many passes (default: never)")
    p.set_defaults(func=cmd_daemon)
    p = subparsers.add_parser(
        "status",
        help="the site at a glance: last pass, queue, nodes, hosts, cloud spend, backoffs",
        description="Observe now and print, in 80 columns: the last pass's time and "
        "result; per VO the pending jobs, their cores and the oldest wait (an LRM that "
        "could not be read is 'queue unknown', never 'queue empty'); nodes by VO, provider "
        "and state; each host's free and used room, reachable or not; cloud instances and "
        "spend rate against each budget; boot backoffs. Acts on nothing.",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=5.0,
        metavar="S",
        help="redraw every S seconds (5 if not given) until Ctrl-C",
    )
    p.add_argument("--count", type=int, help="with --watch: stop after this many frames")
    p.set_defaults(func=cmd_status)
