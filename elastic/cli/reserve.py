"""``elastic reserve``, ``reservations`` and ``cancel``: worker nodes booked ahead.

Layer: entry point (the ledger; admission is the planning package's pure ``admit``).
A reservation is accepted or refused at once, with the reason; an accepted one is
prepared by the passes from its start minus the lead time (docs/reservations.md).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from elastic.cli.common import EXIT_CONFIG, EXIT_NO_NODE, EXIT_OK, Subparsers, site_of
from elastic.config import Site
from elastic.ledger import Event, Ledger
from elastic.model import OPEN_RESERVATION_STATES, NodeState, Reservation, ReservationState
from elastic.planning.reservations import admit, describe_reservation, reservation_lead_s, utc
from elastic.report import dumps

#: the words a start time may be given in, besides an ISO 8601 time
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_start(text: str, now: float) -> float:
    """``now``, ``+90m``/``+2h``/``+1d`` from now, or an ISO 8601 time (UTC unless it
    carries an offset)."""
    text = text.strip()
    if text == "now":
        return now
    if text.startswith("+") and text[-1:] in _UNITS:
        try:
            return now + float(text[1:-1]) * _UNITS[text[-1]]
        except ValueError:
            pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give now, +30m, +2h, +1d or an ISO time (2026-12-24T08:00)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def cmd_reserve(args: argparse.Namespace) -> int:
    site = site_of(args)
    if args.vo not in {vo.name for vo in site.vos}:
        raise SystemExit(f"elastic reserve: no VO {args.vo!r} in {site.source or 'site.yaml'}")
    now = time.time()
    try:
        start = parse_start(args.start, now)
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"elastic reserve: --start {exc}") from None
    if args.hours <= 0:
        raise SystemExit("elastic reserve: --hours must be more than 0")
    if start + args.hours * 3600 <= now:
        raise SystemExit("elastic reserve: that window has already ended")
    flavor = site.vo(args.vo).flavor
    if args.cores > flavor.cores or args.memory_mb > flavor.memory_mb:
        print(
            f"refused: a node of VO {args.vo} has {flavor.cores} cores and {flavor.memory_mb} "
            f"MB (its flavor), less than the {args.cores or flavor.cores} cores and "
            f"{args.memory_mb or flavor.memory_mb} MB asked per node"
        )
        return EXIT_CONFIG
    ledger = Ledger.open(site.state_url())
    decided = book(
        ledger,
        site,
        args.vo,
        args.nodes,
        start,
        start + args.hours * 3600,
        now,
        name=args.name or "",
        burst=not args.local_only,
    )
    accepted = decided.state is ReservationState.ACCEPTED
    print(f"{decided.id}: {decided.state.value}: {decided.reason}")
    if accepted:
        lead = reservation_lead_s(site, ledger.boot_p95_s(), decided)
        print(
            f"{decided.id}: {decided.nodes} node(s) of {decided.vo} from {utc(decided.start)} "
            f"to {utc(decided.end)}; booting starts at {utc(decided.start - lead)} "
            f"(lead {lead:.0f} s)"
        )
        return EXIT_OK
    return EXIT_CONFIG


def book(
    ledger: Ledger,
    site: Site,
    vo: str,
    nodes: int,
    start: float,
    end: float,
    now: float,
    *,
    name: str = "",
    burst: bool = True,
) -> Reservation:
    """Admit a requested reservation at once and record it, accepted or refused, with why
    (``elastic reserve`` and the demo)."""
    request = Reservation(
        ledger.next_reservation_id(),
        vo,
        nodes,
        start,
        end,
        name=name,
        burst=burst,
        created_at=now,
    )
    admission = admit(request, ledger.reservations(), site)
    state = ReservationState.ACCEPTED if admission.accepted else ReservationState.REFUSED
    decided = replace(request, state=state, reason=admission.reason)
    ledger.put_reservation(decided, now, f"{state.value}: {admission.reason}")
    return decided


def cmd_reservations(args: argparse.Namespace) -> int:
    site = site_of(args)
    ledger = Ledger.open(site.state_url())
    shown = ledger.reservations(open_only=not args.all)
    now = time.time()
    if args.json:
        events = ledger.events_by_node([r.id for r in shown])
        print(dumps([reservation_json(r, account(ledger, r, events[r.id], now)) for r in shown]))
        return EXIT_OK
    if not shown:
        print("no open reservations" if not args.all else "no reservations")
        return EXIT_OK
    events = ledger.events_by_node([r.id for r in shown])
    for r in shown:
        label = f"{r.id}" + (f" ({r.name})" if r.name else "")
        spent = account(ledger, r, events[r.id], now)
        print(f"{label} [{r.source}] {describe_reservation(r, now)}; {spent.words()}")
    return EXIT_OK


@dataclass(frozen=True)
class Account:
    """What a reservation took: the nodes booted for it, the queue workers drained for
    its room, and what its nodes cost from their boot to its end (or now)."""

    boots: int
    drained: int
    cost: float

    def words(self) -> str:
        return (
            f"{self.boots} node(s) booted for it, {self.drained} queue worker(s) drained "
            f"for its room, ${self.cost:.2f}"
        )


def account(ledger: Ledger, r: Reservation, events: Sequence[Event], now: float) -> Account:
    """From the reservation's events (``Ledger.events_by_node``, one query for a whole
    listing): a node's cost counts until the reservation ends; after that the node is an
    ordinary worker of the queue."""
    drained = sum(1 for e in events if e.kind == "reservation-drain")
    booted = [e.message.split(" ", 1)[0] for e in events if e.kind == "reservation-boot"]
    cost = 0.0
    for node_id in booted:
        node = ledger.get(node_id)
        if node is None:
            continue
        until = min(r.end, now, node.state_since if node.state is NodeState.GONE else now)
        cost += node.hourly_cost * max(0.0, until - node.created_at) / 3600
    return Account(len(booted), drained, cost)


def cmd_cancel(args: argparse.Namespace) -> int:
    site = site_of(args)
    ledger = Ledger.open(site.state_url())
    found = ledger.reservation(args.id)
    if found is None:
        print(f"{args.id}: no such reservation", flush=True)
        return EXIT_NO_NODE
    if found.source != "elastic":
        raise SystemExit(f"elastic cancel: {args.id} was read from {found.source}; cancel it there")
    if found.state not in OPEN_RESERVATION_STATES:
        print(f"{args.id}: already {found.state.value}")
        return EXIT_OK
    cancelled = replace(found, state=ReservationState.CANCELLED)
    ledger.put_reservation(cancelled, time.time(), "cancelled by an administrator")
    print(f"{args.id}: cancelled; its nodes go back to normal idle handling")
    return EXIT_OK


def reservation_json(r: Reservation, spent: Account) -> dict[str, object]:
    return {
        "id": r.id,
        "name": r.name,
        "vo": r.vo,
        "nodes": r.nodes,
        "start": r.start,
        "end": r.end,
        "source": r.source,
        "burst": r.burst,
        "state": r.state.value,
        "reason": r.reason,
        "ready_at_start": r.ready_at_start,
        "late_s": r.late_s,
        "lrm_nodes": list(r.lrm_nodes),
        "boots": spent.boots,
        "drained": spent.drained,
        "cost": round(spent.cost, 4),
    }


def add_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "reserve",
        help="book worker nodes for a VO ahead of time",
        description="Book NODES workers of VO's flavor (--cores/--memory-mb per node: "
        "refused when more than the flavor's), up in the LRM from --start for "
        "--hours. Accepted or refused at once, with the reason (local room over the window "
        "given other reservations, the VO's max_nodes, cloud limits and budget). Passes "
        "boot the nodes from the start minus the lead time (the measured boot time, "
        "registration and reservations.margin_s). Exits 2 when refused.",
    )
    p.add_argument("vo", help="the VO the nodes are for")
    p.add_argument("--nodes", type=int, required=True, help="how many workers")
    p.add_argument(
        "--start", default="now", help="now, +30m, +2h, +1d, or an ISO time (UTC by default)"
    )
    p.add_argument("--hours", type=float, required=True, help="how long, in hours")
    p.add_argument("--name", default="", help="a name to show in listings and events")
    p.add_argument("--local-only", action="store_true", help="never burst its nodes to EC2")
    p.add_argument(
        "--cores", type=int, default=0, help="cores each node must have (default: the flavor's)"
    )
    p.add_argument(
        "--memory-mb",
        type=int,
        default=0,
        help="memory each node must have, MB (default: the flavor's)",
    )
    p.set_defaults(func=cmd_reserve)
    p = subparsers.add_parser(
        "reservations",
        help="list reservations",
        description="Open reservations (requested here or read from the LRM), earliest "
        "first, with their state: accepted, preparing, ready, active; --all adds ended, "
        "refused and cancelled ones, with how many nodes were up at the start.",
    )
    p.add_argument("--all", action="store_true", help="include ended ones")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_reservations)
    p = subparsers.add_parser(
        "cancel",
        help="cancel a reservation made with elastic reserve",
        description="Cancel a reservation made with 'elastic reserve'; its nodes become "
        "ordinary idle workers. One read from the LRM is cancelled in the LRM. Exits 5 "
        "if there is no such reservation.",
    )
    p.add_argument("id", help="reservation id (see 'elastic reservations')")
    p.set_defaults(func=cmd_cancel)
