"""Reservations through whole passes (issue 14): booted ahead of the start by the lead,
ready and on time, kept idle to the end, then ordinary idle workers; one read from the
LRM is taken in and cancelled when the LRM drops it, never when the LRM is unread."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from elastic.model import (
    LrmReservation,
    NodeState,
    QueueSnapshot,
    Reservation,
    ReservationState,
)
from lrm_adapters.base import LRMError
from lrm_adapters.replay import ReplayAdapter
from tests.factories import BASE_SITE, make_site
from tests.fakes import fake_providers
from tests.worlds import Clock, replay_engine, replay_lrm

LEAD = 300 + 60 + 300


def world(tmp_path: Path):
    site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        policy={"idle_timeout_local_s": 600},
    )
    clock = Clock()
    engine = replay_engine(site, tmp_path, [], fake_providers(site), clock)
    return engine, clock


def reservation_states(engine) -> dict[str, ReservationState]:
    return {r.id: r.state for r in engine.ledger.reservations(open_only=False)}


def test_a_reservation_is_ready_on_time_kept_to_its_end_then_released(tmp_path):
    engine, clock = world(tmp_path)
    start = clock.now + LEAD + 120
    booked = Reservation("r-1", "atlas", 2, start, start + 3600, created_at=clock.now)
    engine.ledger.put_reservation(booked, clock.now, "accepted")
    assert engine.run_pass().plan.boots == ()  # not yet inside its lead
    clock.now += 150
    first = engine.run_pass()
    assert [b.reservation for b in first.plan.boots] == ["r-1", "r-1"]
    assert reservation_states(engine)["r-1"] is ReservationState.PREPARING
    clock.now += 60
    engine.run_pass()  # the nodes joined the (replayed) LRM
    assert {n.state for n in engine.ledger.nodes()} == {NodeState.READY}
    assert reservation_states(engine)["r-1"] is ReservationState.READY
    clock.now = start + 1
    engine.run_pass()
    (active,) = engine.ledger.reservations()
    assert (active.state, active.ready_at_start, active.late_s) == (ReservationState.ACTIVE, 2, 0.0)
    clock.now = start + 3000  # idle far past idle_timeout_local_s: kept, it is reserved
    assert engine.run_pass().plan.drains == ()
    clock.now = start + 3601
    released = engine.run_pass()
    assert reservation_states(engine)["r-1"] is ReservationState.DONE
    assert len(released.plan.drains) == 2  # ordinary idle workers past their timeout
    messages = [e.message for e in engine.ledger.events(node_id="r-1")]
    assert messages[0] == "accepted" and messages[-1].startswith("done: ")
    kinds = [e.kind for e in engine.ledger.events(node_id="r-1")]
    assert kinds.count("reservation-boot") == 2  # what `elastic reservations` counts
    assert any(m.startswith("ready: ") for m in messages)


class WithReservation(ReplayAdapter):
    reservations: tuple[LrmReservation, ...] = ()
    broken = False

    def snapshot(self) -> QueueSnapshot:
        if self.broken:
            raise LRMError("scontrol failed", ["scontrol", "show", "reservation"], 1, "down")
        return replace(super().snapshot(), reservations=self.reservations)


def test_a_reservation_read_from_the_lrm_is_prepared_and_cancelled_when_dropped(tmp_path):
    engine, clock = world(tmp_path)
    lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, WithReservation)
    start = clock.now + 120
    lrm.reservations = (
        LrmReservation("maint", start, start + 600, node_count=4, users=("root",)),
        LrmReservation("physics", start, start + 3600, node_count=2, accounts=("atlas",)),
    )
    engine.lrm = lrm
    engine.site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        vos=[{**v, "match": {"account": [v["name"]]}} for v in BASE_SITE["vos"]],
    )
    result = engine.run_pass()
    assert [b.reservation for b in result.plan.boots] == ["sge:physics"] * 2
    assert set(reservation_states(engine)) == {"sge:physics"}  # maint: no VO of ours
    lrm.broken = True
    clock.now += 60
    engine.run_pass()
    assert reservation_states(engine)["sge:physics"] is not ReservationState.CANCELLED
    lrm.broken, lrm.reservations = False, ()
    clock.now += 60
    engine.run_pass()
    assert reservation_states(engine)["sge:physics"] is ReservationState.CANCELLED


class PowerSaveLRM(WithReservation):
    """The replay LRM standing in for Slurm: records the nodes it is asked to power up."""

    powered: list[str]

    def power_up(self, hostname: str) -> None:
        self.powered.append(hostname)


def test_a_power_save_pass_powers_a_reservations_nodes_up_through_the_lrm(tmp_path):
    engine, clock = world(tmp_path)
    engine.site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "slurm", "options": {"join": "power_save"}},
        vos=[{**v, "match": {"account": [v["name"]]}} for v in BASE_SITE["vos"]],
    )
    lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, PowerSaveLRM)
    lrm.powered = []
    start = clock.now + 60
    lrm.reservations = (
        LrmReservation("r1", start, start + 600, nodes=("cloud1", "cloud2"), accounts=("atlas",)),
    )
    engine.lrm = lrm
    result = engine.run_pass()
    assert [(a.kind, a.node_id) for a in result.plan.actions] == [
        ("power-up", "cloud1"),
        ("power-up", "cloud2"),
    ]
    assert all(r.ok for r in result.results) and lrm.powered == ["cloud1", "cloud2"]
    events = [e.kind for e in engine.ledger.events(node_id="cloud1")]
    assert events == ["power-up"]
    assert not engine.ledger.open_intents()


def test_an_lrm_that_cannot_power_up_fails_the_action_not_the_pass(tmp_path):
    engine, clock = world(tmp_path)
    engine.site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "slurm", "options": {"join": "power_save"}},
        vos=[{**v, "match": {"account": [v["name"]]}} for v in BASE_SITE["vos"]],
    )
    lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, WithReservation)
    start = clock.now + 60
    lrm.reservations = (
        LrmReservation("r1", start, start + 600, nodes=("cloud1",), accounts=("atlas",)),
    )
    engine.lrm = lrm
    result = engine.run_pass()
    (failed,) = result.results
    assert not failed.ok and "cannot power nodes up" in failed.error
    assert result.degraded


class DynamicSlurmLRM(WithReservation):
    """The replay LRM standing in for Slurm with dynamic nodes: keeps each reservation's
    node list as ``scontrol update reservationname=... nodes=...`` would."""

    joined: list[tuple[str, tuple[str, ...]]]
    refuse = False

    def add_to_reservation(self, reservation: str, hostnames) -> None:
        if self.refuse:
            raise LRMError("scontrol failed", ["scontrol", "update"], 1, "Invalid node name")
        self.joined.append((reservation, tuple(hostnames)))
        self.reservations = tuple(
            replace(r, nodes=(*r.nodes, *hostnames)) if r.name == reservation else r
            for r in self.reservations
        )


def test_workers_booted_for_a_slurm_reservation_are_put_into_it_once(tmp_path):
    engine, clock = world(tmp_path)
    engine.site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "slurm"},
        vos=[{**v, "match": {"account": [v["name"]]}} for v in BASE_SITE["vos"]],
    )
    lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, DynamicSlurmLRM)
    lrm.joined = []
    start = clock.now + 300
    lrm.reservations = (
        LrmReservation("physics", start, start + 3600, nodes=("vm",), accounts=("atlas",)),
    )
    engine.lrm = lrm
    booted = engine.run_pass()
    ids = sorted(b.node_id for b in booted.plan.boots)
    assert len(ids) == 1 and lrm.joined == []  # requested, not yet in the LRM
    lrm.refuse = True
    clock.now += 60
    refused = engine.run_pass()  # registered now: the join fails, the pass says so
    assert refused.degraded and any("reservation physics" in e for e in refused.errors)
    lrm.refuse = False
    clock.now += 60
    engine.run_pass()
    assert lrm.joined == [("physics", tuple(ids))]
    clock.now += 60
    engine.run_pass()
    assert len(lrm.joined) == 1  # they are in it now: nothing more to add
    kinds = [e.kind for e in engine.ledger.events(node_id="slurm:physics")]
    assert "reservation-join-failed" in kinds and "reservation-join" in kinds


def test_done_boots_and_drains_for_a_reservation_are_its_events_failed_ones_not(tmp_path):
    from elastic.actuation import ActionResult
    from elastic.model import Boot, Drain, ProviderKind

    engine, clock = world(tmp_path)
    boot = Boot(
        id="t-atlas-00009",
        vo="atlas",
        provider=ProviderKind.LIBVIRT,
        location="hv1",
        cores=4,
        memory_mb=8000,
        reason="reservation r-1",
        reservation="r-1",
    )
    results = [
        ActionResult(boot, ok=True),
        ActionResult(Drain("c-1", "cms", "room", reservation="r-1"), ok=True),
        ActionResult(Drain("c-2", "cms", "room", reservation="r-1"), ok=False, error="x"),
        ActionResult(Drain("c-3", "cms", "idle"), ok=True),  # the queue's own
    ]
    engine._account_reservations(results, clock.now)
    events = engine.ledger.events(node_id="r-1")
    assert [(e.kind, e.message.split(":")[0]) for e in events] == [
        ("reservation-boot", "t-atlas-00009 booted for it"),
        ("reservation-drain", "c-1 of cms drained"),
    ]
