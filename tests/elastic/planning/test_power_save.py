"""A Slurm power_save site (issue 14): Slurm serves the queue through elastic's
ResumeProgram, so a pass boots nothing for it; it powers a due reservation's named nodes
up ahead of the start, once each, and only those not already up."""

from __future__ import annotations

from elastic.model import NodeState, Observation, PowerUp, Reservation
from elastic.planning import plan
from tests.factories import host, jobs, make_site, node

NOW = 50_000.0
SITE = make_site(lrm={"kind": "slurm", "options": {"join": "power_save"}})
LEAD = 300 + 60 + 300


def observe(reservations=(), nodes=(), job_list=()) -> Observation:
    return Observation(
        jobs=tuple(job_list),
        nodes=tuple(nodes),
        hosts=(host(),),
        reservations=tuple(reservations),
    )


def booked(start_in: float) -> Reservation:
    start = NOW + start_in
    return Reservation(
        "slurm:r1",
        "atlas",
        2,
        start,
        start + 600,
        source="slurm",
        name="r1",
        lrm_nodes=("cloud1", "cloud2"),
    )


def test_the_queue_is_slurms_and_nothing_is_booted_or_retired():
    idle = node("cloud9", idle_since=NOW - 10_000)
    p = plan(observe(nodes=[idle], job_list=jobs("atlas", 5)), SITE, NOW)
    assert p.actions == ()
    assert any("Slurm power_save" in n for n in p.notes)
    assert next(d for d in p.decisions if d.vo == "atlas").pending_jobs == 5


def test_a_due_reservations_named_nodes_are_powered_up_once_ahead_of_the_start():
    assert plan(observe([booked(LEAD + 60)]), SITE, NOW).actions == ()
    p = plan(observe([booked(LEAD - 60)]), SITE, NOW)
    assert p.actions == (
        PowerUp(
            "cloud1",
            "atlas",
            "reservation r1 of atlas starts in 600 s: powered up ahead of its jobs",
        ),
        PowerUp(
            "cloud2",
            "atlas",
            "reservation r1 of atlas starts in 600 s: powered up ahead of its jobs",
        ),
    )
    booting = node("cloud1", state=NodeState.BOOTING)
    again = plan(observe([booked(LEAD - 60)], nodes=[booting]), SITE, NOW)
    assert [a.node_id for a in again.actions] == ["cloud2"]


def test_power_ups_obey_the_boot_budget():
    site = make_site(
        lrm={"kind": "slurm", "options": {"join": "power_save"}},
        policy={"max_boots_per_pass": 1},
    )
    assert len(plan(observe([booked(60)]), site, NOW).actions) == 1
