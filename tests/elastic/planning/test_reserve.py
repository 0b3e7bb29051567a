"""Reservations in the plan (issue 14): booted ahead by the lead time, kept to the end,
room set aside before, other VOs' idle workers drained for room, the rest at risk."""

from __future__ import annotations

from dataclasses import replace

from elastic.model import (
    Cause,
    Host,
    LrmNodeState,
    NodeState,
    Observation,
    ProviderKind,
    Reservation,
    ReservationState,
)
from elastic.planning import plan
from elastic.planning.reservations import lead_s, next_state
from tests.factories import BASE_SITE, host, jobs, make_site, node, with_atlas

LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2
NOW = 100_000.0
LEAD = 300 + 60 + 300  # the default boot estimate, registration and margin


def booking(nodes: int = 2, start_in: float = 600, hours: float = 2, **kw) -> Reservation:
    start = NOW + start_in
    return Reservation("r-1", "atlas", nodes, start, start + hours * 3600, **kw)


def observe(reservations=(), job_list=(), nodes=(), hosts=None, **kw) -> Observation:
    return Observation(
        jobs=tuple(job_list),
        nodes=tuple(nodes),
        hosts=tuple(hosts if hosts is not None else (host(),)),
        reservations=tuple(reservations),
        **kw,
    )


def decision(p, vo: str = "atlas"):
    return next(d for d in p.decisions if d.vo == vo)


def test_nodes_are_booted_at_start_minus_the_lead_and_not_before():
    site = make_site()
    early = plan(observe([booking(start_in=LEAD + 30)]), site, NOW)
    assert early.boots == ()
    p = plan(observe([booking(start_in=LEAD - 30)]), site, NOW)
    assert [(b.provider, b.reservation) for b in p.boots] == [(LOCAL, "r-1")] * 2
    assert all("reservation r-1 of atlas" in b.reason for b in p.boots)
    d = decision(p)
    assert (d.reserved, d.wanted, d.short) == (2, 0, ())
    assert "2 booted for reservations" in d.summary()


def test_the_lead_follows_the_measured_boot_time():
    site = make_site()
    assert lead_s(site, {}, LOCAL) == LEAD
    measured = {LOCAL: 1200.0}
    assert lead_s(site, measured, LOCAL) == 1200 + 60 + 300
    booked = booking(start_in=LEAD + 600, burst=False)
    assert plan(observe([booked]), site, NOW).boots == ()
    slow = plan(observe([booked], boot_p95_s=measured), site, NOW)
    assert len(slow.boots) == 2  # a slower history starts the boots earlier


def test_reserved_nodes_are_kept_idle_until_the_end_then_retired():
    site = make_site()
    booked = booking(start_in=-3600, hours=2, state=ReservationState.ACTIVE)
    idle = [node(f"n{i}", idle_since=NOW - 5000) for i in range(2)]  # past the timeout
    during = plan(observe([booked], nodes=idle), site, NOW)
    assert during.drains == () and during.boots == ()
    kept = decision(during).kept
    assert {k.reason.cause for k in kept} == {Cause.RESERVED}
    assert kept[0].reason.figures["nodes"] == 2
    after = plan(observe([booked], nodes=idle), site, booked.end + 1)
    assert {d.node_id for d in after.drains} == {"n0", "n1"}


def test_alive_nodes_of_the_vo_count_and_queue_demand_is_not_booted_twice():
    site = make_site()
    busy = node("n0", lrm=LrmNodeState.BUSY, running=1)
    p = plan(observe([booking(nodes=3, start_in=60)], jobs("atlas", 2), [busy]), site, NOW)
    # 3 reserved, 1 alive: 2 boots; the 2 pending jobs find them, no third boot
    assert len(p.boots) == 2 and {b.reservation for b in p.boots} == {"r-1"}
    assert decision(p).wanted == 0


def test_room_is_set_aside_before_the_lead_for_that_vo_alone():
    site = make_site(policy={"cloud_burst_after_s": 0})
    coming = booking(nodes=2, start_in=LEAD + 1800)  # within hold_ahead_s (3600) of its lead
    one_room = [Host("hv1", 16, 64000, 8, 16000)]  # room for two 4-core workers
    p = plan(observe([coming], jobs("cms", 2), hosts=one_room), site, NOW)
    assert [b.provider for b in p.boots] == [EC2, EC2]  # cms goes to the cloud
    own = plan(observe([coming], jobs("atlas", 2), hosts=one_room), site, NOW)
    assert [b.provider for b in own.boots] == [LOCAL, LOCAL]  # atlas may use its room
    hour_jobs = jobs("cms", 2, walltime_s=3600)  # they end long before the lead
    before = plan(observe([booking(start_in=LEAD + 9000)], hour_jobs, hosts=one_room), site, NOW)
    assert [b.provider for b in before.boots] == [LOCAL, LOCAL]  # too early to hold
    # jobs with no walltime could run past the lead: the room is held from drain_ahead_s
    unbounded = plan(
        observe([booking(start_in=LEAD + 9000)], jobs("cms", 2), hosts=one_room), site, NOW
    )
    assert [b.provider for b in unbounded.boots] == [EC2, EC2]


def test_without_local_room_it_bursts_or_is_at_risk_with_the_binding_limit():
    full = [Host("hv1", 16, 64000, 0, 0)]
    site = make_site()
    burst = plan(observe([booking(start_in=60)], hosts=full), site, NOW)
    assert [(b.provider, b.reservation) for b in burst.boots] == [(EC2, "r-1")] * 2
    local_only = plan(observe([booking(start_in=60, burst=False)], hosts=full), site, NOW)
    assert local_only.boots == ()
    (risk,) = decision(local_only).at_risk
    assert risk.count == 2 and risk.reason.cause is Cause.RESERVATION_AT_RISK
    assert risk.reason.figures["cause"] == "no_local_room"
    assert "reservation r-1 starts in 60 s" in risk.reason.text


def test_an_idle_worker_of_another_vo_is_drained_for_the_room_never_a_busy_one():
    site = make_site()
    full = [Host("hv1", 16, 64000, 0, 0)]
    cms_idle = node("c-idle", "cms", idle_since=NOW - 10)
    cms_busy = node("c-busy", "cms", lrm=LrmNodeState.BUSY, running=1)
    booked = booking(nodes=2, start_in=60, burst=False)
    p = plan(observe([booked], nodes=[cms_idle, cms_busy], hosts=full), site, NOW)
    assert [d.node_id for d in p.drains] == ["c-idle"]
    assert "reservation r-1 of atlas" in p.drains[0].reason
    (risk,) = decision(p).at_risk  # the second node: no other idle worker to drain
    assert risk.count == 1


AHEAD = LEAD + 3 * 3600  # past hold_ahead_s (3600), within drain_ahead_s (14400)
DUE = NOW + AHEAD - LEAD  # when the reservation's boots must start


def cms_busy(name: str, ends_in: float | None) -> object:
    busy = node(name, "cms", lrm=LrmNodeState.BUSY, running=1)
    return replace(busy, busy_until=None if ends_in is None else NOW + ends_in)


def test_busy_workers_are_drained_ahead_by_their_walltimes_never_past_the_lead():
    site = make_site()
    full = [Host("hv1", 16, 64000, 0, 0)]
    ends_in_time = cms_busy("c-soon", 3600)  # its jobs end 2 h before the boots
    ends_late = cms_busy("c-late", AHEAD)  # its jobs end after the lead
    unbounded = cms_busy("c-nowall", None)  # a job with no walltime: no bound at all
    booked = booking(nodes=2, start_in=AHEAD, burst=False)
    workers = [ends_late, unbounded, ends_in_time]
    p = plan(observe([booked], jobs("cms", 3), workers, hosts=full), site, NOW)
    (drain,) = p.drains
    assert drain.node_id == "c-soon"
    assert "drained ahead for reservation r-1 of atlas" in drain.reason
    assert "walltimes end in 3600 s" in drain.reason
    (risk,) = decision(p).at_risk  # the second node: nothing else frees in time
    assert risk.count == 1 and "before its boot" in risk.reason.text
    # the drained worker's room is counted next pass, and no second worker is drained
    draining = replace(ends_in_time, state=NodeState.DRAINING, lrm_state=LrmNodeState.DRAINING)
    again = plan(observe([booked], jobs("cms", 3), [ends_late, draining], hosts=full), site, NOW)
    assert again.drains == ()
    (still,) = decision(again).at_risk
    assert still.count == 1  # the draining worker's room serves one node


def test_a_worker_is_not_drained_while_a_job_starting_on_it_still_ends_before_the_lead():
    site = make_site()
    full = [Host("hv1", 16, 64000, 0, 0)]
    soon = cms_busy("c-soon", 3600)
    booked = booking(nodes=1, start_in=AHEAD, burst=False)
    short_jobs = jobs("cms", 3, walltime_s=1800)  # a job starting now ends 2.5 h early
    p = plan(observe([booked], short_jobs, [soon], hosts=full), site, NOW)
    assert p.drains == ()
    long_jobs = jobs("cms", 3, walltime_s=4 * 3600)
    assert [
        d.node_id for d in plan(observe([booked], long_jobs, [soon], hosts=full), site, NOW).drains
    ] == ["c-soon"]


def test_only_a_vo_whose_next_job_could_overrun_the_lead_is_drained():
    atlas, cms = BASE_SITE["vos"]
    lhcb = {**cms, "name": "lhcb", "match": {"project": ["lhcb"]}}
    site = make_site(vos=[atlas, cms, lhcb])
    full = [Host("hv1", 16, 64000, 0, 0)]
    workers = [replace(cms_busy("l-soon", 1800), vo="lhcb"), cms_busy("c-soon", 3600)]
    queue = jobs("lhcb", 2, walltime_s=1800) + jobs("cms", 2)  # cms: no walltime
    booked = booking(nodes=1, start_in=AHEAD, burst=False)
    p = plan(observe([booked], queue, workers, hosts=full), site, NOW)
    assert [d.node_id for d in p.drains] == ["c-soon"]  # l-soon's next job ends in time


def test_drain_ahead_keeps_the_other_vos_floor_and_waits_for_the_window():
    full = [Host("hv1", 16, 64000, 0, 0)]
    soon = cms_busy("c-soon", 3600)
    booked = booking(nodes=1, start_in=AHEAD, burst=False)
    atlas, cms = BASE_SITE["vos"]
    cms_floor = make_site(vos=[atlas, {**cms, "min_nodes": 1}])
    assert plan(observe([booked], jobs("cms", 3), [soon], hosts=full), cms_floor, NOW).drains == ()
    far = booking(nodes=1, start_in=LEAD + 5 * 3600, burst=False)  # beyond drain_ahead_s
    assert plan(observe([far], jobs("cms", 3), [soon], hosts=full), make_site(), NOW).drains == ()


def test_max_nodes_puts_a_reservation_at_risk():
    site = with_atlas({"max_nodes": 1})
    p = plan(observe([booking(nodes=2, start_in=60)]), site, NOW)
    assert len(p.boots) == 1
    (risk,) = decision(p).at_risk
    assert risk.reason.figures["cause"] == "vo_max_nodes"


def test_a_failed_reservation_state_is_not_planned():
    site = make_site()
    done = booking(start_in=60, state=ReservationState.CANCELLED)
    assert plan(observe([done]), site, NOW).boots == ()


def test_states_move_with_time_and_nodes():
    site = make_site()
    r = booking(nodes=2, start_in=LEAD + 60)
    assert next_state(r, site, observe([r]), NOW).state is ReservationState.ACCEPTED
    inside = NOW + 120
    assert next_state(r, site, observe([r]), inside).state is ReservationState.PREPARING
    up = [node(f"n{i}", lrm=LrmNodeState.IDLE) for i in range(2)]
    ready = next_state(r, site, observe([r], nodes=up), inside)
    assert ready.state is ReservationState.READY
    active = next_state(ready, site, observe([ready], nodes=up), r.start + 5)
    assert (active.state, active.ready_at_start, active.late_s) == (
        ReservationState.ACTIVE,
        2,
        0.0,
    )
    late = next_state(r, site, observe([r], nodes=up[:1]), r.start + 5)
    assert (late.ready_at_start, late.late_s) == (1, None)
    caught_up = next_state(late, site, observe([late], nodes=up), r.start + 90)
    assert (caught_up.ready_at_start, caught_up.late_s) == (1, 90.0)
    assert next_state(active, site, observe([active]), r.end).state is ReservationState.DONE
    failed = next_state(late, site, observe([late]), r.end)  # never all up during it
    assert failed.state is ReservationState.FAILED
    assert failed.reason == "1 of 2 node(s) up at the start, never all"
    unseen = next_state(r, site, observe([r]), r.end)
    assert (unseen.state, unseen.reason) == (ReservationState.FAILED, "no pass saw its start")


def test_registered_workers_join_the_earliest_slurm_reservation_that_lacks_them():
    from elastic.planning.reservations import to_join

    site = make_site()
    first = booking(nodes=1, start_in=60, source="slurm", name="early", lrm_nodes=("vm",))
    second = replace(first, id="r-2", name="late", start=first.start + 60, nodes=2)
    ours = booking(nodes=1, start_in=60)  # elastic's own: no LRM reservation to join
    workers = [
        replace(node("n0"), created_at=1.0),
        replace(node("n1"), created_at=2.0),
        node("n2", state=NodeState.BOOTING),  # not in the LRM yet
        replace(node("n3"), created_at=3.0),
    ]
    joins = to_join(site, observe([first, second, ours], nodes=workers), NOW)
    assert [(r.name, hosts) for r, hosts in joins] == [("early", ["n0"]), ("late", ["n1", "n3"])]
    inside = replace(second, lrm_nodes=("n1", "n3"))
    again = to_join(site, observe([first, inside], nodes=workers), NOW)
    assert [(r.name, hosts) for r, hosts in again] == [("early", ["n0"])]


def test_a_worker_drained_ahead_frees_no_room_this_pass_for_the_queue():
    site = make_site(policy={"cloud_burst_after_s": 0})
    two_free = [Host("hv1", 16, 64000, 2, 16000)]  # no room for a 4-core worker of either VO
    big = replace(cms_busy("c-big", 3600), cores=8)  # its room, once empty, holds atlas's
    booked = booking(nodes=1, start_in=AHEAD, burst=False)
    p = plan(observe([booked], jobs("cms", 2), [big], hosts=two_free), site, NOW)
    assert [d.node_id for d in p.drains] == ["c-big"]
    # c-big runs on: its 8 cores are not there for cms's queue this pass
    assert all(b.provider is EC2 for b in p.boots), [(b.provider, b.location) for b in p.boots]
