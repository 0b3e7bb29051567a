"""Idle local workers of one VO give their room to another VO's pending jobs."""

from __future__ import annotations

from elastic.model import Drain, Host, LrmNodeState, Observation, ProviderKind
from elastic.planning import plan
from tests.factories import BASE_SITE, jobs, make_site, node

NOW = 10_000.0
FULL_HOST = Host("hv1", 16, 64000, 0, 32000)  # four 4-core workers already on it


def observe(job_list, nodes) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=(FULL_HOST,))


def idle_cms(count: int, idle_for: float = 30.0):
    return [node(f"c{i}", "cms", idle_since=NOW - idle_for - i) for i in range(count)]


def drained(p) -> list[str]:
    return sorted(a.node_id for a in p.actions if isinstance(a, Drain))


def test_idle_workers_of_another_vo_are_drained_for_waiting_jobs_instead_of_bursting():
    p = plan(observe(jobs("atlas", 2), idle_cms(4)), make_site(), NOW)
    # the two idle the longest go, well before their 600 s idle timeout
    assert drained(p) == ["c2", "c3"]
    assert not p.boots  # no cloud burst for the wants the freed room will hold
    atlas = p.decisions[0]
    assert atlas.reclaimed == 2 and not atlas.short
    assert all("goes to atlas" in a.reason for a in p.actions)


def test_busy_workers_are_never_reclaimed():
    busy = [
        node(f"c{i}", "cms", lrm=LrmNodeState.BUSY, running=1, idle_since=None) for i in range(4)
    ]
    p = plan(observe(jobs("atlas", 2), busy), make_site(), NOW)
    assert drained(p) == []
    assert [b.provider for b in p.boots] == [ProviderKind.EC2, ProviderKind.EC2]


def test_workers_their_own_vo_needs_are_kept():
    p = plan(observe(jobs("atlas", 2) + jobs("cms", 3), idle_cms(4)), make_site(), NOW)
    assert drained(p) == ["c3"]  # cms needs three of its four idle workers
    assert len(p.boots) == 1 and p.boots[0].provider is ProviderKind.EC2


def test_min_nodes_are_kept():
    atlas, cms = BASE_SITE["vos"]
    site = make_site(vos=[atlas, {**cms, "min_nodes": 4}])
    p = plan(observe(jobs("atlas", 2), idle_cms(4)), site, NOW)
    assert drained(p) == []


def test_a_worker_too_small_for_the_waiting_flavor_is_left_alone():
    atlas, cms = BASE_SITE["vos"]
    site = make_site(
        vos=[{**atlas, "flavor": {"cores": 8, "memory_mb": 8000}}, cms],
        # c5.2xlarge: its 8 vCPUs carry the 8-core flavor
        ec2={
            "instance_types": {"atlas": ["c5.2xlarge"], "cms": ["c5.xlarge"]},
            "prices": {"c5.2xlarge": 0.34},
        },
    )
    p = plan(observe(jobs("atlas", 1, cores=8), idle_cms(4)), site, NOW)
    assert drained(p) == []
    assert [b.provider for b in p.boots] == [ProviderKind.EC2]


def test_idle_cloud_workers_are_not_reclaimed_for_local_room():
    cloud = [
        node(f"e{i}", "cms", provider=ProviderKind.EC2, idle_since=NOW - 30, cost=0.2)
        for i in range(2)
    ]
    p = plan(observe(jobs("atlas", 1), cloud), make_site(), NOW)
    assert drained(p) == []


def test_wants_held_back_by_the_boot_budget_reclaim_nothing():
    half_free = Host("hv1", 16, 64000, 8, 48000)  # room for two more workers
    site = make_site(policy={"max_boots_per_pass": 1})
    obs = Observation(jobs=tuple(jobs("atlas", 3)), nodes=tuple(idle_cms(2)), hosts=(half_free,))
    p = plan(obs, site, NOW)
    assert [b.provider for b in p.boots] == [ProviderKind.LIBVIRT]
    assert drained(p) == []


def test_no_more_workers_are_reclaimed_than_a_pass_can_boot():
    site = make_site(policy={"max_boots_per_pass": 1})
    p = plan(observe(jobs("atlas", 3), idle_cms(4)), site, NOW)
    assert drained(p) == ["c3"]  # the longest idle; the other wants wait or burst


def test_a_site_can_keep_each_vos_idle_workers_until_their_timeout():
    site = make_site(policy={"reclaim_idle": False})
    p = plan(observe(jobs("atlas", 2), idle_cms(4)), site, NOW)
    assert drained(p) == []
    assert [b.provider for b in p.boots] == [ProviderKind.EC2, ProviderKind.EC2]
