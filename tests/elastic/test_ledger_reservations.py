"""The ledger's reservations and its measured boot time (issue 14)."""

from __future__ import annotations

from dataclasses import replace

from elastic.ledger import Ledger
from elastic.model import NodeState, ProviderKind, Reservation, ReservationState
from tests.factories import record


def test_reservations_round_trip_and_only_open_ones_are_listed(tmp_path):
    ledger = Ledger.open(tmp_path / "l.db")
    r = Reservation(ledger.next_reservation_id(), "atlas", 2, 10.0, 20.0, lrm_nodes=("a", "b"))
    ledger.put_reservation(r, 1.0, "accepted")
    assert ledger.reservations() == [r]
    done = replace(r, state=ReservationState.DONE, ready_at_start=2, late_s=0.0)
    ledger.put_reservation(done, 2.0, "done")
    assert ledger.reservations() == []
    assert ledger.reservations(open_only=False) == [done]
    assert ledger.next_reservation_id() == "r-2"
    assert [e.kind for e in ledger.events(node_id=r.id)] == ["reservation", "reservation"]


def test_boot_p95_is_taken_from_the_joins_the_ledger_saw(tmp_path):
    ledger = Ledger.open(tmp_path / "l.db")
    assert ledger.boot_p95_s() == {}
    for i in range(20):
        node = record(f"n{i}", NodeState.REQUESTED, provider=ProviderKind.LIBVIRT, at=1000.0)
        ledger.add(node, "requested")
        ledger.event(1000.0 + 60 + i, "reconcile", "joined the LRM", node.id)  # 60..79 s
    ledger.event(5000.0, "reconcile", "something else", "n0")
    assert ledger.boot_p95_s() == {ProviderKind.LIBVIRT: 78.0}  # nearest rank: 19th of 20
