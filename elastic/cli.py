"""``elastic``: the command line a site admin runs, from cron or by hand.

Layer: entry point (argument parsing, exit codes, printing). Exit codes:

  0  done; the pass (or command) completed and every action succeeded
  1  unexpected internal error (a bug: please report it with the log)
  2  usage error, or site.yaml is invalid (each problem printed as file:line: key: message)
  3  another pass is running for this site (cron overlap); nothing was done
  4  the pass ran but degraded: an LRM or provider could not be read, or an action failed
  5  the node named on the command line is not in the ledger
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Callable

from elastic import __version__
from elastic.config import ConfigError, Site, find_site_file, load_site
from elastic.engine import PassLocked, PassResult, run_locked
from elastic.model import NodeState
from elastic.report import dumps, nodes_text, plan_json, plan_text, status_json, status_text

EXIT_OK, EXIT_BUG, EXIT_CONFIG, EXIT_LOCKED, EXIT_DEGRADED, EXIT_NO_NODE = 0, 1, 2, 3, 4, 5

#: Modules that add their own subcommands through ``add_parser(subparsers)``.
PLUGIN_MODULES = ("elastic.demo", "elastic.contextualize", "elastic.sim.cli", "elastic.slurm_power")

log = logging.getLogger("elastic")


def _site(args: argparse.Namespace) -> Site:
    return load_site(args.config)


def cmd_validate(args: argparse.Namespace) -> int:
    site = load_site(args.file or args.config)
    problems: list[str] = []
    try:
        from elastic.contextualize import check_site_templates

        problems = check_site_templates(site)
    except ImportError:
        log.debug("contextualization not available; templates not checked")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(f"{site.source}: valid ({len(site.vos)} VO(s), {len(site.local.hosts)} local host(s))")
    return EXIT_OK


def _pass_exit(result: PassResult) -> int:
    return EXIT_DEGRADED if result.degraded else EXIT_OK


def cmd_plan(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    site = _site(args)
    result = build_engine(site).run_pass(dry_run=True)
    print(dumps(plan_json(result.plan)) if args.json else plan_text(result.plan))
    return EXIT_DEGRADED if result.errors else EXIT_OK


def cmd_run_once(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    site = _site(args)
    result = run_locked(site, build_engine(site), hold_if_abandoned=True)
    for step in result.recovered:
        state = "done" if step.ok else f"FAILED: {step.error}"
        print(f"recovered {step.step.node_id} ({step.step.step}: {step.step.reason}): {state}")
    print(plan_text(result.plan))
    for destroy in result.followup:
        print(f"then destroy {destroy.node_id} ({destroy.vo}): {destroy.reason}")
    for failed in (r for r in result.results if not r.ok):
        print(f"FAILED {failed.action.kind} {failed.action.node_id}: {failed.error}")
    code = _pass_exit(result)
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
    from elastic.wiring import build_engine

    site = _site(args)
    engine = build_engine(site)
    interval = args.interval or site.policy.pass_interval_s

    def one_pass() -> None:
        try:
            run_locked(site, engine)
        except PassLocked as exc:
            log.warning("%s; skipping this pass", exc)

    run_daemon(one_pass, interval, max_passes=args.passes)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from elastic.wiring import build_engine

    engine = build_engine(_site(args))
    observation, observed, _ = engine.prepare(engine.clock())
    if args.json:
        print(dumps(status_json(observation, observed.errors)))
    else:
        print(status_text(observation, observed.errors))
    return EXIT_DEGRADED if observed.errors else EXIT_OK


def cmd_nodes(args: argparse.Namespace) -> int:
    from elastic.ledger import Ledger

    ledger = Ledger.open(_site(args).state_url())
    nodes = ledger.nodes(include_gone=args.all)
    print(dumps([vars(n) for n in nodes]) if args.json else nodes_text(nodes))
    return EXIT_OK


def cmd_drain(args: argparse.Namespace) -> int:
    """An admin's drain: the LRM stops sending work; the planner destroys it once empty."""
    from elastic.engine import site_lock
    from elastic.wiring import build_engine

    site = _site(args)
    engine = build_engine(site)
    record = engine.ledger.get(args.node)
    if record is None or record.state is NodeState.GONE:
        print(f"no live node {args.node} in the ledger (see 'elastic nodes')", file=sys.stderr)
        return EXIT_NO_NODE
    reason = args.reason or "drained by an administrator"
    with site_lock(site).acquire(timeout=60):
        engine.lrm.drain_node(args.node, reason)
        engine.ledger.set_state(args.node, NodeState.DRAINING, engine.clock(), reason)
    print(f"{args.node}: draining ({reason})")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="elastic",
        description="Elastic virtual clusters for batch sites: observe the LRM queue, "
        "boot VO worker VMs on local hypervisors first and EC2 after, retire idle ones.",
        epilog=__doc__.split("Exit codes:", 1)[1].join(["Exit codes:", ""]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"elastic {__version__}")
    parser.add_argument(
        "--config",
        default=None,
        help="site.yaml to use (default: ./site.yaml, then /etc/elastic/site.yaml)",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add = sub.add_parser
    p = add("validate", help="check a site.yaml and its templates; exit 2 listing every problem")
    p.add_argument("file", nargs="?", help="file to check (default: --config)")
    p.set_defaults(func=cmd_validate)
    p = add("plan", help="dry run: observe and print the actions a pass would take, with reasons")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_plan)
    p = add("run-once", help="one pass: observe, plan, act, record (for cron)")
    p.set_defaults(func=cmd_run_once)
    p = add("daemon", help="run passes every policy.pass_interval_s until SIGTERM/SIGINT")
    p.add_argument("--interval", type=float, help="seconds between passes (overrides site.yaml)")
    p.add_argument("--passes", type=int, help="stop after this many passes")
    p.set_defaults(func=cmd_daemon)
    p = add("status", help="queue and nodes by VO, state and provider, as observed now")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)
    p = add("nodes", help="worker nodes in the ledger")
    p.add_argument("--all", action="store_true", help="include nodes that are gone")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_nodes)
    p = add("drain", help="drain a node now; it is destroyed once empty")
    p.add_argument("node", help="node id (see 'elastic nodes')")
    p.add_argument("--reason", help="recorded in the ledger and the LRM")
    p.set_defaults(func=cmd_drain)
    for name in PLUGIN_MODULES:
        _add_plugin(sub, name)
    return parser


def _add_plugin(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        log.debug("%s not available: %s", name, exc)
        return
    add_parser: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] | None
    add_parser = getattr(module, "add_parser", None)
    if add_parser is not None:
        add_parser(sub)


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbose < 1:
        for noisy in ("apscheduler", "botocore", "urllib3", "werkzeug"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    args.config = str(find_site_file(args.config))
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except PassLocked as exc:
        print(f"elastic: {exc}; this pass exits without acting", file=sys.stderr)
        return EXIT_LOCKED
    except Exception:
        log.exception("unexpected error")
        return EXIT_BUG
    return code


if __name__ == "__main__":
    sys.exit(main())
