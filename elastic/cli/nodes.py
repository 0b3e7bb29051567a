"""``elastic nodes``, ``drain`` and ``events``: the ledger's nodes and history, and an
admin's drain.

Layer: entry point (the ledger; a drain through the engine's ``Actuator``, like every
drain a pass makes: an intent opened and closed, the LRM told, the state and its event
written, all under the site lock).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from filelock import Timeout

from elastic.cli.common import EXIT_DEGRADED, EXIT_NO_NODE, EXIT_OK, Subparsers, site_of
from elastic.engine import PassLocked, site_lock
from elastic.ledger import Event, Ledger
from elastic.model import Drain, NodeState
from elastic.report import (
    CAUSE_STATES,
    dumps,
    event_json,
    event_text,
    events_text,
    node_cause,
    nodes_text,
)

#: seconds between two reads of the ledger by ``events --follow``
FOLLOW_INTERVAL_S = 1.0
#: events read at most per query while following (more are read at once, oldest first)
FOLLOW_BATCH = 1000
#: the lock wait of an admin's drain: a pass under way is let finish
DRAIN_LOCK_WAIT_S = 60.0

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> float:
    """``90s``, ``15m``, ``1h``, ``2d`` ago, or an ISO 8601 time (UTC unless it carries
    an offset), as epoch seconds."""
    relative = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text)
    if relative:
        return time.time() - float(relative[1]) * _UNITS[relative[2]]
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a duration (90s, 15m, 1h, 2d) or an ISO time (2025-01-31T08:00)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be 1 or more")
    return value


def cmd_nodes(args: argparse.Namespace) -> int:
    ledger = Ledger.open(site_of(args).state_url())
    nodes = ledger.nodes(include_gone=args.all)
    explained = [n for n in nodes if n.state in CAUSE_STATES]
    events = ledger.events_by_node([n.id for n in explained])
    causes = {n.id: node_cause(n, events[n.id]) for n in explained}
    if args.json:
        print(dumps([vars(n) | {"cause": causes.get(n.id, n.reason)} for n in nodes]))
    else:
        print(nodes_text(nodes, causes))
    return EXIT_OK


def cmd_drain(args: argparse.Namespace) -> int:
    """An admin's drain: the LRM stops sending work; the planner destroys it once empty."""
    from elastic.wiring import build_engine

    site = site_of(args)
    engine = build_engine(site)
    try:
        with site_lock(site).acquire(timeout=DRAIN_LOCK_WAIT_S):
            record = engine.ledger.get(args.node)
            if record is None or record.state is NodeState.GONE:
                print(
                    f"no live node {args.node} in the ledger (see 'elastic nodes')", file=sys.stderr
                )
                return EXIT_NO_NODE
            drain = Drain(record.id, record.vo, args.reason)
            [result] = engine.actuator(engine.clock()).run((drain,))
    except Timeout as exc:
        raise PassLocked(f"another pass held the site lock for {DRAIN_LOCK_WAIT_S:g} s") from exc
    if not result.ok:
        print(f"{args.node}: drain failed: {result.error}", file=sys.stderr)
        return EXIT_DEGRADED
    print(f"{args.node}: draining ({args.reason})")
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    ledger = Ledger.open(site_of(args).state_url())

    def read(limit: int, after_id: int | None = None) -> list[Event]:
        return ledger.events(limit, args.node, vo=args.vo, since=args.since, after_id=after_id)

    shown = read(args.limit)
    if not args.follow:
        if args.json:
            print(dumps([event_json(e) for e in shown]))
        else:
            print(events_text(shown))
        return EXIT_OK
    emit: Callable[[Event], str] = (
        (lambda e: json.dumps(event_json(e), sort_keys=True)) if args.json else event_text
    )
    for event in shown:
        print(emit(event), flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends a follow, not an error
        _follow(read, emit, shown[-1].id if shown else 0, args.polls)
    return EXIT_OK


def _follow(
    read: Callable[[int, int], list[Event]],
    emit: Callable[[Event], str],
    last: int,
    polls: int | None,
) -> None:
    """Every FOLLOW_INTERVAL_S, print the events written after ``last``; forever, or
    ``polls`` reads (tests)."""
    done = 0
    while polls is None or done < polls:
        time.sleep(FOLLOW_INTERVAL_S)
        done += 1
        while True:
            batch = read(FOLLOW_BATCH, last)
            for event in batch:
                print(emit(event), flush=True)
                last = event.id
            if len(batch) < FOLLOW_BATCH:
                break


def add_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "nodes",
        help="worker nodes in the ledger",
        description="The worker nodes the ledger records, oldest first: VO, provider, "
        "where, instance, state and why. A failed or gone node shows its cause (the "
        "provider's or the LRM's error, what reconcile found), not the retirement's words.",
    )
    p.add_argument("--all", action="store_true", help="include nodes that are gone")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_nodes)
    p = subparsers.add_parser(
        "drain",
        help="drain a node now; it is destroyed once empty",
        description="Drain a node now, as a pass would (an intent, the LRM told, an event): "
        "the LRM stops sending it work and a later pass destroys it once it runs nothing. "
        "Waits for a pass under way; exits 5 if the ledger has no such live node.",
    )
    p.add_argument("node", help="node id (see 'elastic nodes')")
    p.add_argument(
        "--reason",
        default="drained by an administrator",
        help="recorded in the ledger and the LRM",
    )
    p.set_defaults(func=cmd_drain)
    p = subparsers.add_parser(
        "events",
        help="the ledger's event history, newest last",
        description="What happened, newest last: boots, joins, drains, destroys, failures "
        "with the provider's or the LRM's error, orphans adopted, recoveries, passes. One "
        "event a line (wrapped at 80 columns): time (UTC), node, kind: message.",
    )
    p.add_argument("--node", help="only this node's events")
    p.add_argument("--vo", help="only events of this VO's nodes")
    p.add_argument(
        "--since",
        type=parse_since,
        metavar="WHEN",
        help="only events from then on: 90s, 15m, 1h, 2d ago, or an ISO time (UTC unless "
        "it has an offset)",
    )
    p.add_argument("--limit", type=_positive, default=50, help="at most this many, the newest")
    p.add_argument(
        "--follow",
        action="store_true",
        help="then print new events as they are written (a read every second) until Ctrl-C",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="a JSON list of objects (with --follow: one JSON object a line)",
    )
    p.add_argument("--polls", type=_positive, help=argparse.SUPPRESS)  # tests: stop after N
    p.set_defaults(func=cmd_events)
