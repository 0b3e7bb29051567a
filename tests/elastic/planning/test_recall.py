"""Booting cloud workers give way to local room that frees before they are up."""

from __future__ import annotations

from dataclasses import replace

from elastic.model import (
    Destroy,
    Drain,
    Host,
    LrmNodeState,
    NodeState,
    Observation,
    ProviderKind,
    Reservation,
    WorkerNode,
)
from elastic.planning import plan
from tests.factories import jobs, make_site, node

NOW = 10_000.0
#: one 16-core host, every core held by four idle 4-core cms workers
FULL = Host("hv1", 16, 64000, 0, 32000)
TIMINGS = {
    "policy": {"pass_interval_s": 60, "cloud_burst_after_s": 0},
    "reservations": {"boot_estimate_s": {"libvirt": 60, "ec2": 180}},
}


def booting(id: str = "e1", age: float = 30.0, **kw: object) -> WorkerNode:
    """An atlas cloud worker asked ``age`` seconds ago, not in the LRM yet."""
    fields = {"state": NodeState.BOOTING, "lrm": LrmNodeState.ABSENT, "idle_since": None, **kw}
    made = node(id, "atlas", provider=ProviderKind.EC2, cost=0.2, **fields)  # type: ignore[arg-type]
    return replace(made, created_at=NOW - age, state_since=NOW - age)


def idle_cms(n: int = 4) -> list[WorkerNode]:
    return [node(f"c{i}", "cms", idle_since=NOW - 30) for i in range(n)]


def observe(
    nodes: list[WorkerNode], pending: int = 1, hosts: tuple[Host, ...] = (FULL,)
) -> Observation:
    return Observation(jobs=tuple(jobs("atlas", pending)), nodes=tuple(nodes), hosts=hosts)


def drained(p: object) -> list[str]:
    """Nodes the plan drains or destroys: a recalled worker is destroyed, the idle local
    worker whose room it takes is drained."""
    return sorted(a.node_id for a in p.actions if isinstance(a, Drain | Destroy))  # type: ignore[attr-defined]


def test_a_booting_cloud_worker_gives_way_when_reclaimed_local_room_is_up_sooner() -> None:
    """The cloud worker is up at +150 s; a local one, after a pass and a 60 s boot, at
    +120 s: another VO's idle worker is drained for atlas and the cloud boot is recalled."""
    p = plan(observe([booting(), *idle_cms()]), make_site(**TIMINGS), NOW)
    assert "e1" in drained(p)
    assert len(drained(p)) == 2  # e1 and one idle cms worker, whose room atlas takes
    (recalled,) = [a for a in p.actions if isinstance(a, Destroy) and a.node_id == "e1"]
    assert not recalled.never_joined  # not a boot failure: no backoff for its target
    assert "booting cloud worker" in recalled.reason and "local room" in recalled.reason
    assert not [b for b in p.boots if b.provider is ProviderKind.EC2]  # and no new rental


def test_free_host_room_boots_the_local_worker_in_the_same_pass() -> None:
    roomy = Host("hv1", 16, 64000, 16, 64000)
    p = plan(observe([booting()], hosts=(roomy,)), make_site(**TIMINGS), NOW)
    assert drained(p) == ["e1"]
    assert [b.provider for b in p.boots] == [ProviderKind.LIBVIRT]


def test_a_cloud_worker_nearly_up_is_kept() -> None:
    """Asked 170 s ago, it is up in 10 s; a local one would be up in 120 s: the burst
    delay (0 here) is the only extra wait the site accepts for local room."""
    p = plan(observe([booting(age=170), *idle_cms()]), make_site(**TIMINGS), NOW)
    assert drained(p) == []
    slack = {**TIMINGS, "policy": {"pass_interval_s": 60, "cloud_burst_after_s": 120}}
    assert "e1" in drained(plan(observe([booting(age=170), *idle_cms()]), make_site(**slack), NOW))


def test_without_local_room_the_booting_worker_still_covers_its_jobs() -> None:
    """No room and nothing to reclaim: the booting worker stays and holds the want, so
    no second cloud worker is asked for the same job."""
    busy = [
        node(f"c{i}", "cms", lrm=LrmNodeState.BUSY, running=1, idle_since=None) for i in range(4)
    ]
    p = plan(observe([booting(), *busy]), make_site(**TIMINGS), NOW)
    assert drained(p) == [] and not p.boots
    decision = next(d for d in p.decisions if d.vo == "atlas")
    assert decision.wanted == 0 and decision.covered == 1


def test_only_the_wants_met_locally_recall_booting_workers() -> None:
    """Two booting workers, room for one local worker: the later one is recalled."""
    one_slot = Host("hv1", 16, 64000, 4, 16000)
    nodes = [booting("e1", age=50), booting("e2", age=20)]
    p = plan(observe(nodes, pending=2, hosts=(one_slot,)), make_site(**TIMINGS), NOW)
    assert drained(p) == ["e2"]
    assert [b.provider for b in p.boots] == [ProviderKind.LIBVIRT]


def test_a_worker_the_lrm_lists_or_that_ran_a_job_is_never_recalled() -> None:
    roomy = (Host("hv1", 16, 64000, 16, 64000),)
    site = make_site(**TIMINGS)
    listed = booting(state=NodeState.JOINING, lrm=LrmNodeState.IDLE)
    assert drained(plan(observe([listed], hosts=roomy), site, NOW)) == []
    ran = replace(booting(state=NodeState.JOINING), last_running=1)
    assert drained(plan(observe([ran], hosts=roomy), site, NOW)) == []
    joining = booting(state=NodeState.JOINING)  # registered, not up: still recalled
    assert drained(plan(observe([joining], hosts=roomy), site, NOW)) == ["e1"]


def test_the_site_can_turn_it_off_with_repatriation() -> None:
    off = {
        **TIMINGS,
        "policy": {"pass_interval_s": 60, "cloud_burst_after_s": 0, "repatriate_cloud": False},
    }
    roomy = (Host("hv1", 16, 64000, 16, 64000),)
    p = plan(observe([booting()], hosts=roomy), make_site(**off), NOW)
    assert drained(p) == [] and not p.boots


def test_no_boot_is_recalled_without_a_local_image() -> None:
    site = make_site(**TIMINGS)
    atlas = site.vo("atlas")
    cloud_only = site.model_copy(
        update={
            "vos": [
                atlas.model_copy(
                    update={"image": atlas.image.model_copy(update={"libvirt": None})}
                ),
                site.vo("cms"),
            ]
        }
    )
    roomy = (Host("hv1", 16, 64000, 16, 64000),)
    assert drained(plan(observe([booting()], hosts=roomy), cloud_only, NOW)) == []
    assert not [b for b in plan(observe([booting()], hosts=roomy), cloud_only, NOW).boots]


def test_a_vo_with_a_reservation_due_keeps_its_booting_workers() -> None:
    """Its workers are the reservation's, planned on the reservation's own lead."""
    roomy = (Host("hv1", 16, 64000, 16, 64000),)
    due = Reservation("r-1", "atlas", 1, NOW + 60, NOW + 7200)
    obs = replace(observe([booting()], hosts=roomy), reservations=(due,))
    assert "e1" not in drained(plan(obs, make_site(**TIMINGS), NOW))
    assert drained(plan(observe([booting()], hosts=roomy), make_site(**TIMINGS), NOW)) == ["e1"]
