"""Property-based invariants of the planner, over random sites, queues and nodes."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from elastic.model import (
    EXISTING_STATES,
    Boot,
    Host,
    Job,
    LrmNodeState,
    NodeState,
    Observation,
    ProviderKind,
    WorkerNode,
)
from elastic.planning import plan
from tests.factories import make_site, node

NOW = 100_000.0
VOS = ("atlas", "cms")

sites = st.builds(
    lambda boots, instances, budget, atlas_max, cms_cloud: make_site(
        policy={"max_boots_per_pass": boots},
        ec2={
            "max_instances": instances,
            "max_hourly_cost": budget,
            # each VO's type carries its flavor (cms's 8 cores need 8 vCPUs)
            "instance_types": {"atlas": ["c5.xlarge"], "cms": ["c5.2xlarge"]},
            "prices": {"c5.xlarge": 0.2, "c5.2xlarge": 0.34},
        },
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "a", "ec2": "ami-a"},
                "max_nodes": atlas_max,
                "share": 2,
                "cloud": {"allowed": True, "max_nodes": 5, "max_hourly_cost": 1.0},
            },
            {
                "name": "cms",
                "match": {"project": ["cms"]},
                "flavor": {"cores": 8, "memory_mb": 16000},
                "image": {"libvirt": "c", "ec2": "ami-c"},
                "max_nodes": 12,
                "cloud": {"allowed": True, "max_nodes": cms_cloud, "max_hourly_cost": 2.0},
            },
        ],
    ),
    st.integers(0, 12),
    st.integers(0, 10),
    st.sampled_from([0.0, 0.3, 1.0, 5.0]),
    st.integers(0, 15),
    st.integers(0, 6),
)

job_lists = st.lists(
    st.builds(
        lambda i, vo, cores, mem, count, runnable: Job(
            f"j{i}", cores=cores, memory_mb=mem, vo=vo, count=count, runnable=runnable
        ),
        st.integers(0, 10_000),
        st.sampled_from(VOS),
        st.integers(1, 8),
        st.integers(0, 16_000),
        st.integers(1, 6),
        st.booleans(),
    ),
    max_size=12,
)

node_lists = st.lists(
    st.builds(
        lambda i, vo, provider, state, lrm, running, idle: node(
            f"n{i}",
            vo,
            state=state,
            lrm=lrm,
            provider=provider,
            running=running if lrm in {LrmNodeState.BUSY, LrmNodeState.DRAINING} else 0,
            idle_since=idle,
            cost=0.2 if provider is ProviderKind.EC2 else 0.0,
            boot_deadline=NOW + 500 if idle is None else NOW - 1,
            cores=4 if vo == "atlas" else 8,
            memory_mb=8000 if vo == "atlas" else 16000,  # each VO's flavor
        ),
        st.integers(0, 10_000),
        st.sampled_from(VOS),
        st.sampled_from(list(ProviderKind)),
        st.sampled_from(sorted(EXISTING_STATES)),
        st.sampled_from(list(LrmNodeState)),
        st.integers(1, 4),
        st.one_of(st.none(), st.floats(0, NOW)),
    ),
    max_size=10,
    unique_by=lambda n: n.id,
)

host_lists = st.lists(
    st.builds(
        lambda i, c: Host(f"h{i}", c, c * 4000, c, c * 4000), st.integers(0, 99), st.integers(0, 40)
    ),
    max_size=4,
    unique_by=lambda h: h.name,
)


def retired_ids(p) -> set[str]:
    return {a.node_id for a in p.actions if a.kind in {"drain", "destroy"}}


def assert_cloud_limits(site, nodes, p) -> None:
    """Every boot of ``p`` keeps the site's and each VO's node, instance and budget limits
    (also the sizing properties' check, tests/elastic/planning/test_sizing.py)."""
    ec2 = site.ec2
    cloud_before = [n for n in nodes if n.provider is ProviderKind.EC2]
    cloud_new = [b for b in p.boots if b.provider is ProviderKind.EC2]
    if cloud_new:
        assert len(cloud_before) + len(cloud_new) <= ec2.max_instances
        spend = sum(n.hourly_cost for n in cloud_before) + sum(b.hourly_cost for b in cloud_new)
        assert spend <= ec2.max_hourly_cost + 1e-9
    for vo in site.vos:
        mine = [n for n in nodes if n.vo == vo.name]
        new = [b for b in p.boots if b.vo == vo.name]
        if new:
            assert len(mine) + len(new) <= vo.max_nodes
        new_cloud = [b for b in new if b.provider is ProviderKind.EC2]
        if new_cloud:
            cloud_mine = [n for n in mine if n.provider is ProviderKind.EC2]
            assert len(cloud_mine) + len(new_cloud) <= vo.cloud.max_nodes
            cost = sum(n.hourly_cost for n in cloud_mine) + sum(b.hourly_cost for b in new_cloud)
            assert cost <= vo.cloud.max_hourly_cost + 1e-9


@settings(max_examples=300, deadline=None)
@given(sites, job_lists, node_lists, host_lists)
def test_limits_are_never_exceeded(site, jobs, nodes, hosts):
    observation = Observation(tuple(jobs), tuple(nodes), tuple(hosts))
    p = plan(observation, site, NOW)
    assert len(p.boots) <= site.policy.max_boots_per_pass
    assert_cloud_limits(site, nodes, p)
    for h in hosts:
        placed = [b for b in p.boots if b.provider is ProviderKind.LIBVIRT and b.location == h.name]
        assert sum(b.cores for b in placed) <= h.cores_free
        assert sum(b.memory_mb for b in placed) <= h.memory_mb_free


@settings(max_examples=300, deadline=None)
@given(sites, job_lists, node_lists, host_lists)
def test_no_busy_or_unknown_node_is_ever_retired(site, jobs, nodes, hosts):
    p = plan(Observation(tuple(jobs), tuple(nodes), tuple(hosts)), site, NOW)
    by_id = {n.id: n for n in nodes}
    for node_id in retired_ids(p):
        retired = by_id[node_id]
        assert retired.running_jobs == 0
        assert retired.lrm_state not in {LrmNodeState.BUSY, LrmNodeState.DRAINING}
        assert retired.lrm_state is not LrmNodeState.UNKNOWN
    for drain in p.drains:
        assert by_id[drain.node_id].lrm_state is LrmNodeState.IDLE


@settings(max_examples=150, deadline=None)
@given(sites, job_lists, node_lists, host_lists)
def test_nothing_at_all_happens_when_the_lrm_was_not_read(site, jobs, nodes, hosts):
    p = plan(Observation(tuple(jobs), tuple(nodes), tuple(hosts), lrm_ok=False), site, NOW)
    assert not p.actions


@settings(max_examples=300, deadline=None)
@given(sites, job_lists, node_lists, host_lists)
def test_cloud_only_when_no_local_host_has_room(site, jobs, nodes, hosts):
    p = plan(Observation(tuple(jobs), tuple(nodes), tuple(hosts)), site, NOW)
    free = {h.name: [h.cores_free, h.memory_mb_free] for h in hosts}
    for b in p.boots:
        if b.provider is ProviderKind.LIBVIRT:
            free[b.location][0] -= b.cores
            free[b.location][1] -= b.memory_mb
    for b in p.boots:
        if b.provider is ProviderKind.EC2:
            flavor = site.vo(b.vo).flavor
            assert not any(c >= flavor.cores and m >= flavor.memory_mb for c, m in free.values()), (
                f"{b.node_id} went to EC2 while a local host had room"
            )


def apply(nodes: list[WorkerNode], hosts: list[Host], p) -> tuple[list[WorkerNode], list[Host]]:
    """What the world looks like after the engine carried the plan out."""
    by_id = {n.id: n for n in nodes}
    rooms = {h.name: h for h in hosts}
    for action in p.actions:
        if isinstance(action, Boot):
            by_id[action.node_id] = node(
                action.node_id,
                action.vo,
                state=NodeState.BOOTING,
                lrm=LrmNodeState.ABSENT,
                provider=action.provider,
                idle_since=None,
                boot_deadline=NOW + 900,
                cores=action.cores,
                memory_mb=action.memory_mb,
                cost=action.hourly_cost,
            )
            if action.provider is ProviderKind.LIBVIRT:
                h = rooms[action.location]
                rooms[h.name] = replace(
                    h,
                    cores_free=h.cores_free - action.cores,
                    memory_mb_free=h.memory_mb_free - action.memory_mb,
                )
        elif action.kind == "drain":
            by_id[action.node_id] = replace(
                by_id[action.node_id], state=NodeState.DRAINING, lrm_state=LrmNodeState.DRAINED
            )
        else:
            del by_id[action.node_id]
    return list(by_id.values()), list(rooms.values())


@settings(max_examples=200, deadline=None)
@given(sites, job_lists, node_lists, host_lists)
def test_applying_the_plan_reaches_a_steady_state(site, jobs, nodes, hosts):
    observation = Observation(tuple(jobs), tuple(nodes), tuple(hosts))
    first = plan(observation, site, NOW)
    nodes, hosts = apply(list(nodes), list(hosts), first)
    second = plan(
        Observation(tuple(jobs), tuple(nodes), tuple(hosts), next_serial=1 + len(first.boots)),
        site,
        NOW,
    )
    unconstrained = (
        len(first.boots) < site.policy.max_boots_per_pass
        and not first.destroys  # a destroy frees limits: a replacement boot is right
        and not any(d.short for d in first.decisions)  # no VO was held short by a limit
    )
    if unconstrained:
        assert not second.boots, "the same demand booted twice"
    serial = 1 + len(first.boots) + len(second.boots)
    for _ in range(50):  # max_boots_per_pass may spread the boots over many passes
        if not second.actions:
            break
        nodes, hosts = apply(nodes, hosts, second)
        second = plan(
            Observation(tuple(jobs), tuple(nodes), tuple(hosts), next_serial=serial), site, NOW
        )
        serial += len(second.boots)
    assert not second.actions, f"no steady state: {second.actions}"


@settings(max_examples=300, deadline=None)
@given(
    sites,
    job_lists,
    node_lists,
    host_lists,
    st.booleans(),
    st.booleans(),
    st.sampled_from([0, 120]),
)
def test_every_want_is_met_or_carries_one_reason_and_the_numbers_add_up(
    site, jobs, nodes, hosts, local_ok, cloud_ok, burst_after
):
    site = site.model_copy(
        update={"policy": site.policy.model_copy(update={"cloud_burst_after_s": burst_after})}
    )
    aged = [replace(j, submit_time=NOW - 60 * (i % 4)) for i, j in enumerate(jobs)]
    observation = Observation(
        tuple(aged), tuple(nodes), tuple(hosts), local_ok=local_ok, cloud_ok=cloud_ok
    )
    p = plan(observation, site, NOW)
    for d in p.decisions:
        booted = d.boots_local + d.boots_cloud
        assert d.wanted == booted + d.reclaimed + d.short_count, d.summary()
        assert all(s.count > 0 and s.reason.text for s in d.short)
        assert len({(s.reason, s.also) for s in d.short}) == len(d.short)  # one line each
        assert d.covered <= d.nodes_needed
        idle = {n.id for n in nodes if n.vo == d.vo and n.idle}
        retired = {a.node_id for a in p.actions if a.vo == d.vo and a.kind != "boot"}
        kept = [k.node_id for k in d.kept]
        assert len(kept) == len(set(kept))
        assert set(kept) == idle - retired, "every idle node is drained or kept with a reason"
