"""Idle cloud workers give way to local room at once, not after their idle timeout."""

from __future__ import annotations

from elastic.model import Destroy, Drain, Host, LrmNodeState, Observation, ProviderKind
from elastic.planning import plan
from tests.factories import BASE_SITE, host, jobs, make_site, node

NOW = 10_000.0
FULL_HOST = Host("hv1", 16, 64000, 0, 32000)
FREE_HOST = host()


def cloud(id: str, vo: str = "atlas", *, idle_for: float = 30.0, running: int = 0, cost=0.2):
    lrm = LrmNodeState.BUSY if running else LrmNodeState.IDLE
    return node(
        id,
        vo,
        provider=ProviderKind.EC2,
        lrm=lrm,
        running=running,
        idle_since=None if running else NOW - idle_for,
        cost=cost,
    )


def observe(nodes, job_list=(), hosts=(FREE_HOST,)) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=tuple(hosts))


def drained(p) -> list[str]:
    return sorted(a.node_id for a in p.actions if isinstance(a, Drain))


def test_an_idle_cloud_worker_goes_at_once_when_a_host_has_room_for_its_vo():
    p = plan(observe([cloud("e1")]), make_site(), NOW)  # idle 30 s of its 300 s timeout
    assert drained(p) == ["e1"]
    (drain,) = [a for a in p.actions if isinstance(a, Drain)]
    assert "room on local host hv1" in drain.reason and "cloud nodes go first" in drain.reason
    assert not p.boots  # nothing waits: the local worker boots when a job does


def test_host_room_is_counted_once_for_two_idle_cloud_workers():
    one_slot = Host("hv1", 16, 64000, 4, 16000)  # room for one 4-core worker
    p = plan(observe([cloud("e1"), cloud("e2")], hosts=[one_slot]), make_site(), NOW)
    assert len(drained(p)) == 1


def test_a_spare_idle_local_worker_of_the_vo_is_room_and_is_kept_for_its_next_jobs():
    local = node("l1", idle_since=NOW - 900)  # past its 600 s local timeout
    p = plan(observe([cloud("e1"), local], hosts=[FULL_HOST]), make_site(), NOW)
    assert drained(p) == ["e1"]  # the idle local worker, not the cloud one, stays
    assert "idle local worker l1" in next(a.reason for a in p.actions if a.node_id == "e1")


def test_without_local_room_the_idle_timeout_rules():
    p = plan(observe([cloud("e1")], hosts=[FULL_HOST]), make_site(), NOW)
    assert drained(p) == []
    late = plan(observe([cloud("e1", idle_for=400)], hosts=[FULL_HOST]), make_site(), NOW)
    assert drained(late) == ["e1"]  # its own 300 s timeout


def test_busy_cloud_workers_are_never_drained_for_local_room():
    p = plan(observe([cloud("e1", running=1)]), make_site(), NOW)
    assert drained(p) == []
    assert not any(isinstance(a, Destroy) for a in p.actions)


def test_an_idle_cloud_worker_that_pending_jobs_need_stays():
    # one pending job of atlas (4 cores: one worker) and one idle cloud worker about to
    # take it: the planner boots nothing and drains nothing
    p = plan(observe([cloud("e1")], jobs("atlas", 1)), make_site(), NOW)
    assert drained(p) == [] and not p.boots


def test_min_nodes_and_vos_without_a_local_image_keep_their_cloud_workers():
    atlas, cms = BASE_SITE["vos"]
    floor = make_site(vos=[{**atlas, "min_nodes": 1}, cms])
    assert drained(plan(observe([cloud("e1")]), floor, NOW)) == []
    cloud_only = make_site(vos=[{**atlas, "image": {"ec2": "ami-atlas"}}, cms])
    assert drained(plan(observe([cloud("e1")]), cloud_only, NOW)) == []


def test_host_room_does_not_count_for_a_vo_at_its_max_nodes():
    atlas, cms = BASE_SITE["vos"]
    full = make_site(vos=[{**atlas, "max_nodes": 1}, cms])
    assert drained(plan(observe([cloud("e1")]), full, NOW)) == []


def test_the_site_can_keep_cloud_workers_until_their_timeout():
    site = make_site(policy={"repatriate_cloud": False})
    assert drained(plan(observe([cloud("e1")]), site, NOW)) == []


def test_room_this_pass_boots_into_is_not_counted_again():
    # two cms jobs take the host's last two slots; atlas's idle cloud worker must stay
    two_slots = Host("hv1", 16, 64000, 8, 32000)
    p = plan(observe([cloud("e1")], jobs("cms", 2), hosts=[two_slots]), make_site(), NOW)
    assert [b.provider for b in p.boots] == [ProviderKind.LIBVIRT, ProviderKind.LIBVIRT]
    assert drained(p) == []
