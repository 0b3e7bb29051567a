"""Table-driven tests, one per planner rule. Each fails if its rule is broken."""

from __future__ import annotations

import pytest

from elastic.model import Cause, Job, LrmNodeState, NodeState, Observation, ProviderKind
from elastic.planning import plan
from tests.factories import host, jobs, make_site, node

LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2
NOW = 10_000.0


DEFAULT_HOSTS = (host(),)


def observe(job_list=(), nodes=(), hosts=DEFAULT_HOSTS, **kw) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=tuple(hosts), **kw)


def boots_by(p, provider):
    return [a for a in p.boots if a.provider is provider]


@pytest.mark.parametrize(
    ("cores", "memory_mb", "count", "nodes_needed"),
    [
        (1, 100, 10, 3),  # 4 one-core jobs per 4-core node
        (4, 100, 3, 3),  # whole-node jobs
        (2, 100, 3, 2),  # two per node
        (1, 5000, 4, 4),  # memory-bound: one 5 GB job per 8 GB node
        (3, 100, 2, 2),  # 3-core jobs do not share a 4-core node
    ],
)
def test_pending_jobs_become_nodes_of_the_vo_flavor(cores, memory_mb, count, nodes_needed):
    site = make_site(ec2={"max_instances": 0})
    hosts = [host(cores=100, memory_mb=400_000)]
    p = plan(observe(jobs("atlas", count, cores, memory_mb), hosts=hosts), site, NOW)
    assert p.decisions[0].nodes_needed == nodes_needed
    assert len(p.boots) == nodes_needed


def test_array_count_is_demand_not_one_job():
    site = make_site()
    job = Job("7", cores=1, memory_mb=100, vo="atlas", count=8)
    p = plan(observe([job], hosts=[host(cores=64, memory_mb=640_000)]), site, NOW)
    assert len(p.boots) == 2


def test_job_larger_than_flavor_is_unplaceable_not_dropped():
    site = make_site()
    p = plan(observe(jobs("atlas", 1, cores=16)), site, NOW)
    assert not p.boots
    assert len(p.unplaceable) == 1
    assert "16 cores" in p.unplaceable[0].reason


def test_job_of_no_vo_is_reported():
    p = plan(observe([Job("9", cores=1, vo=None)]), make_site(), NOW)
    assert p.unplaceable[0].reason == "matches no VO in site.yaml"
    assert not p.boots


def test_held_jobs_are_not_demand():
    held = jobs("atlas", 5, runnable=False)
    assert not plan(observe(held), make_site(), NOW).boots


@pytest.mark.parametrize(
    ("state", "lrm"),
    [
        (NodeState.BOOTING, LrmNodeState.ABSENT),
        (NodeState.JOINING, LrmNodeState.DOWN),
        (NodeState.READY, LrmNodeState.IDLE),
    ],
)
def test_booting_or_idle_nodes_count_as_capacity(state, lrm):
    existing = node("a1", state=state, lrm=lrm, idle_since=NOW, boot_deadline=NOW + 900)
    p = plan(observe(jobs("atlas", 2), [existing]), make_site(), NOW)
    assert len(p.boots) == 1


def test_local_hosts_are_filled_before_ec2():
    p = plan(observe(jobs("atlas", 6)), make_site(), NOW)  # hv1 holds 4 nodes of 4 cores
    assert len(boots_by(p, LOCAL)) == 4
    assert len(boots_by(p, EC2)) == 2
    assert all(b.location == "hv1" for b in boots_by(p, LOCAL))


def test_best_fit_packs_the_fuller_host_first():
    hosts = [host("big", cores=64, memory_mb=256_000), host("small", cores=4, memory_mb=16_000)]
    p = plan(observe(jobs("atlas", 1), hosts=hosts), make_site(), NOW)
    assert p.boots[0].location == "small"


def test_shares_split_scarce_local_capacity():
    # atlas share 2, cms share 1; 4 local slots; both want plenty
    site = make_site(ec2={"max_instances": 0})
    p = plan(observe(jobs("atlas", 10) + jobs("cms", 10)), site, NOW)
    local = boots_by(p, LOCAL)
    assert sum(b.vo == "atlas" for b in local) == 3
    assert sum(b.vo == "cms" for b in local) == 1


def test_shares_count_nodes_a_vo_already_holds():
    site = make_site(ec2={"max_instances": 0})
    held = [node(f"c{i}", "cms", lrm=LrmNodeState.BUSY, running=1) for i in range(2)]
    p = plan(observe(jobs("atlas", 10) + jobs("cms", 10), held, hosts=[host(cores=8)]), site, NOW)
    assert [b.vo for b in p.boots] == ["atlas", "atlas"]


def atlas_only(allowed: bool = True, **cloud: float) -> dict:
    return {
        "name": "atlas",
        "match": {"project": ["atlas"]},
        "flavor": {"cores": 4, "memory_mb": 8000},
        "image": {"libvirt": "a", "ec2": "ami-a"},
        "cloud": {"allowed": allowed, **cloud},
    }


@pytest.mark.parametrize(
    ("overrides", "cloud_boots", "cause"),
    [
        ({}, 6, None),
        ({"ec2": {"max_instances": 2}}, 2, Cause.SITE_MAX_INSTANCES),
        ({"ec2": {"max_hourly_cost": 0.5}}, 2, Cause.SITE_CLOUD_BUDGET),  # 0.2 each
        ({"vos": [atlas_only(max_nodes=3, max_hourly_cost=10)]}, 3, Cause.VO_CLOUD_MAX_NODES),
        ({"vos": [atlas_only(max_nodes=9, max_hourly_cost=0.7)]}, 3, Cause.VO_CLOUD_BUDGET),
        ({"vos": [atlas_only(allowed=False)]}, 0, Cause.NO_LOCAL_ROOM),
    ],
)
def test_cloud_only_within_vo_and_site_limits(overrides, cloud_boots, cause):
    if "vos" in overrides:
        overrides = {**overrides, "ec2": {"instance_types": {"atlas": ["c5.xlarge"]}}}
    site = make_site(**overrides)
    p = plan(observe(jobs("atlas", 10)), site, NOW)
    assert len(boots_by(p, LOCAL)) == 4
    assert len(boots_by(p, EC2)) == cloud_boots
    if cloud_boots < 6:
        (short,) = p.decisions[0].short
        assert short.count == 6 - cloud_boots and short.reason.cause is cause


def test_existing_cloud_spend_counts_against_the_budget():
    site = make_site(ec2={"max_hourly_cost": 1.0})
    running = [
        node(f"e{i}", provider=EC2, lrm=LrmNodeState.BUSY, running=1, cost=0.2) for i in range(4)
    ]
    p = plan(observe(jobs("atlas", 20), running, hosts=[]), site, NOW)
    assert len(boots_by(p, EC2)) == 1


def test_max_nodes_caps_a_vo():
    site = make_site(
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "a"},
                "max_nodes": 2,
            }
        ],
        ec2={"instance_types": {}},
    )
    p = plan(observe(jobs("atlas", 10)), site, NOW)
    assert len(p.boots) == 2


def test_min_nodes_boots_without_demand_and_is_not_drained():
    site = make_site(
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "a"},
                "min_nodes": 2,
            }
        ],
        ec2={"instance_types": {}},
    )
    assert len(plan(observe(), site, NOW).boots) == 2
    idle = [node(f"a{i}", idle_since=0.0) for i in range(2)]
    assert not plan(observe(nodes=idle), site, NOW).actions


def test_max_boots_per_pass():
    site = make_site(policy={"max_boots_per_pass": 3})
    assert len(plan(observe(jobs("atlas", 10)), site, NOW).boots) == 3


def test_idle_past_timeout_is_drained_cloud_before_local():
    site = make_site()
    idle = [
        node("local-old", idle_since=0.0),
        node("cloud-new", provider=EC2, idle_since=NOW - 400),
    ]
    p = plan(observe(nodes=idle), make_site(policy={"repatriate_cloud": False}), NOW)
    assert [d.node_id for d in p.drains] == ["cloud-new", "local-old"]
    assert all(d.reason for d in p.drains)
    # by default the idle local worker is kept one more pass, for the cloud one's work
    p = plan(observe(nodes=idle), site, NOW)
    assert [d.node_id for d in p.drains] == ["cloud-new"]
    assert [d.node_id for d in plan(observe(nodes=idle[:1]), site, NOW).drains] == ["local-old"]


def test_idle_within_timeout_is_kept():
    site = make_site(policy={"repatriate_cloud": False})  # else l's room takes c's place
    idle = [node("l", idle_since=NOW - 599), node("c", provider=EC2, idle_since=NOW - 299)]
    assert not plan(observe(nodes=idle), site, NOW).actions


def test_idle_node_needed_by_pending_jobs_is_kept():
    idle = [node("l", idle_since=0.0)]
    assert not plan(observe(jobs("atlas", 1), idle), make_site(), NOW).actions


def test_only_surplus_idle_nodes_are_drained_cloud_first():
    idle = [node("l", idle_since=0.0), node("c", provider=EC2, idle_since=0.0)]
    p = plan(observe(jobs("atlas", 1), idle), make_site(), NOW)
    assert [d.node_id for d in p.drains] == ["c"]


def test_busy_node_is_never_drained_or_destroyed():
    busy = [
        node("b1", lrm=LrmNodeState.BUSY, running=2, idle_since=None),
        node("b2", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINING, running=1),
        node("b3", state=NodeState.FAILED, lrm=LrmNodeState.BUSY, running=1),
    ]
    assert not plan(observe(nodes=busy), make_site(), NOW).actions


def test_drained_empty_node_is_destroyed():
    drained = [node("d", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINED)]
    p = plan(observe(nodes=drained), make_site(), NOW)
    assert [(a.kind, a.node_id) for a in p.actions] == [("destroy", "d")]


def test_unknown_lrm_state_is_never_retired():
    nodes = [
        node("d", state=NodeState.DRAINING, lrm=LrmNodeState.UNKNOWN),
        node("f", state=NodeState.FAILED, lrm=LrmNodeState.UNKNOWN),
        node("i", lrm=LrmNodeState.UNKNOWN, idle_since=0.0),
    ]
    assert not plan(observe(nodes=nodes), make_site(), NOW).actions


def test_unreadable_lrm_means_no_action_at_all():
    nodes = [node("d", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINED)]
    p = plan(observe(jobs("atlas", 5), nodes, lrm_ok=False), make_site(), NOW)
    assert not p.actions
    assert "could not be read" in p.notes[0]


def test_node_that_never_joined_is_destroyed_after_boot_timeout():
    late = node("j", state=NodeState.JOINING, lrm=LrmNodeState.ABSENT, boot_deadline=NOW - 1)
    on_time = node("k", state=NodeState.JOINING, lrm=LrmNodeState.ABSENT, boot_deadline=NOW + 1)
    p = plan(observe(nodes=[late, on_time]), make_site(), NOW)
    assert [a.node_id for a in p.destroys] == ["j"]
    assert "boot_timeout_s" in p.destroys[0].reason


def test_no_cloud_boots_when_ec2_unreadable_and_no_local_when_hosts_unreadable():
    p = plan(observe(jobs("atlas", 10), cloud_ok=False), make_site(), NOW)
    assert not boots_by(p, EC2) and len(boots_by(p, LOCAL)) == 4
    p = plan(observe(jobs("atlas", 2), local_ok=False), make_site(), NOW)
    assert not boots_by(p, LOCAL) and not boots_by(p, EC2)  # unreadable is not full
    (short,) = p.decisions[0].short
    assert short.reason.cause is Cause.HOSTS_UNREADABLE
    assert "burst_when_local_unreadable" in short.reason.text
    bursting = make_site(policy={"burst_when_local_unreadable": True})
    p = plan(observe(jobs("atlas", 2), local_ok=False), bursting, NOW)
    assert not boots_by(p, LOCAL) and len(boots_by(p, EC2)) == 2


def test_unreachable_host_gets_nothing():
    down = host("hv1")
    from dataclasses import replace

    p = plan(observe(jobs("atlas", 1), hosts=[replace(down, reachable=False)]), make_site(), NOW)
    assert not boots_by(p, LOCAL)


def test_node_ids_are_unique_and_follow_the_serial():
    p = plan(observe(jobs("atlas", 3), next_serial=41), make_site(), NOW)
    assert [b.node_id for b in p.boots] == ["t-atlas-00041", "t-atlas-00042", "t-atlas-00043"]


def test_every_action_and_decision_explains_itself():
    nodes = [
        node("l", idle_since=0.0),
        node("d", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINED),
    ]
    p = plan(observe(jobs("cms", 3), nodes), make_site(), NOW)
    assert {a.kind for a in p.actions} == {"boot", "drain", "destroy"}
    assert all(a.reason.strip() for a in p.actions)
    assert {d.vo for d in p.decisions} == {"atlas", "cms"}


def test_drain_past_its_timeout_is_reported_not_forced():
    stuck = node("s", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINING, running=2)
    p = plan(observe(nodes=[stuck]), make_site(policy={"drain_timeout_s": 100}), NOW)
    assert not p.actions
    assert "s has drained for" in p.notes[0] and "still runs 2 job(s)" in p.notes[0]


def test_cloud_burst_waits_for_jobs_that_local_capacity_may_still_take():
    site = make_site(policy={"cloud_burst_after_s": 120})
    young = jobs("atlas", 6, submit_time=NOW - 60)
    p = plan(observe(young), site, NOW)
    assert (len(boots_by(p, LOCAL)), len(boots_by(p, EC2))) == (4, 0)
    old = jobs("atlas", 6, submit_time=NOW - 121)
    p = plan(observe(old), site, NOW)
    assert (len(boots_by(p, LOCAL)), len(boots_by(p, EC2))) == (4, 2)
