"""Cloud workers sized to their jobs (issue 15): the type each EC2 worker gets, the check
of every type's vCPUs and memory against the flavor it carries, and the planner booting
and counting workers by their type's size."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from elastic.config import ConfigError
from elastic.model import Cause, LrmNodeState, NodeState, Observation, ProviderKind
from elastic.planning import plan
from elastic.planning.sizing import (
    SizedType,
    choose_workers,
    first_workers_worth,
    sized_types,
    uncovered,
)
from tests.elastic.test_planner_properties import (
    assert_cloud_limits,
    host_lists,
    job_lists,
    node_lists,
    sites,
)
from tests.factories import jobs, make_site, node

NOW = 10_000.0
#: AWS's sizes and on-demand us-east-1 prices
C5_LARGE = SizedType("c5.large", 2, 4096, 0.085)
C5_XLARGE = SizedType("c5.xlarge", 4, 8192, 0.17)
C5_2XLARGE = SizedType("c5.2xlarge", 8, 16384, 0.34)
C5_4XLARGE = SizedType("c5.4xlarge", 16, 32768, 0.68)
C5_9XLARGE = SizedType("c5.9xlarge", 36, 73728, 1.53)
C6I_8XLARGE = SizedType("c6i.8xlarge", 32, 65536, 1.36)
M5_4XLARGE = SizedType("m5.4xlarge", 16, 65536, 0.768)
ALL = (M5_4XLARGE, C5_9XLARGE, C6I_8XLARGE, C5_4XLARGE, C5_2XLARGE, C5_XLARGE, C5_LARGE)


def test_a_32_core_job_gets_a_type_of_at_least_32_vcpus():
    sizing = choose_workers({(32, 4000): 1}, ALL, max_workers=5)
    (worker,) = sizing.workers
    assert worker.instance_type.vcpus >= 32
    # of the two that fit, c6i.8xlarge's $1.36 over 32 used cores beats c5.9xlarge's $1.53
    assert worker.instance_type is C6I_8XLARGE
    assert worker.cores_used == 32 and not sizing.unfit


def test_sixteen_one_core_jobs_get_the_cheapest_cost_per_core_hour_used():
    shapes = {(1, 1000): 16}
    sizing = choose_workers(shapes, ALL, max_workers=16)
    total = sum(w.instance_type.hourly_cost for w in sizing.workers)
    assert sum(w.jobs for w in sizing.workers) == 16
    # no single type packs them cheaper: ceil(16 / vCPUs) workers of it, each at its price
    cheapest = min(math.ceil(16 / t.vcpus) * t.hourly_cost for t in ALL)
    assert total == pytest.approx(cheapest)
    # c5 costs $0.0425 a vCPU whatever the size: the tie goes to the smaller workers, each
    # released when its own jobs end; the dearer m5 and the half-empty c5.9xlarge never
    assert [w.instance_type for w in sizing.workers] == [C5_LARGE] * 8
    assert sizing.workers[0].cost_per_core_hour == pytest.approx(0.0425)
    assert "c5.large (2 vCPUs, 4096 MB) sized to 2 pending job(s)" in sizing.workers[0].why()


def test_a_cheaper_vcpu_wins_over_the_listed_order():
    """m5.4xlarge listed first, but c5.4xlarge's vCPU is cheaper for 1 GB jobs."""
    sizing = choose_workers({(1, 1000): 16}, (M5_4XLARGE, C5_4XLARGE), max_workers=4)
    assert [w.instance_type for w in sizing.workers] == [C5_4XLARGE]


def test_an_empty_worker_is_dearer_than_a_full_small_one():
    """Two 1-core jobs on a 36-vCPU type would cost $0.765 per core-hour used."""
    sizing = choose_workers({(1, 500): 2}, ALL, max_workers=4)
    assert [w.instance_type for w in sizing.workers] == [C5_LARGE]


def test_memory_decides_when_the_jobs_ask_for_it():
    """Four 1-core, 12 GB jobs: a c5.4xlarge (32 GB) holds two, an m5.4xlarge (64 GB) four."""
    sizing = choose_workers({(1, 12_000): 4}, (C5_4XLARGE, M5_4XLARGE), max_workers=4)
    assert [w.instance_type for w in sizing.workers] == [M5_4XLARGE]
    assert sizing.workers[0].memory_mb_used == 48_000


def test_a_type_too_small_is_never_chosen():
    sizing = choose_workers({(8, 9000): 3, (40, 1000): 1}, ALL[3:], max_workers=10)
    for worker in sizing.workers:
        assert worker.instance_type.vcpus >= 8 and worker.instance_type.memory_mb >= 9000
    assert sum(w.jobs for w in sizing.workers) == 3
    # a 40-core share fits none of c5.4xlarge and smaller: left pending, never squeezed in
    assert sizing.unfit == {(40, 1000): 1}


def test_max_workers_caps_what_is_sized():
    sizing = choose_workers({(4, 1000): 10}, (C5_XLARGE,), max_workers=3)
    assert len(sizing.workers) == 3 and sum(w.jobs for w in sizing.workers) == 3


def test_uncovered_shares_are_what_idle_and_booting_rooms_do_not_hold():
    left = uncovered({(2, 1000): 5, (8, 1000): 1}, [(8, 16000), (4, 8000)])
    assert left == {(2, 1000): 3}  # the 8-core job and two 2-core ones found room


def test_first_workers_worth_takes_no_more_than_the_wants():
    taken = first_workers_worth({(1, 1000): 40, (8, 1000): 1}, 2, 8, 16000)
    assert taken == {(8, 1000): 1, (1, 1000): 8}


def test_sized_types_read_the_sites_sizes_and_prices():
    site = make_site(ec2={"instance_sizes": {"x9.custom": {"vcpus": 12, "memory_mb": 24000}}})
    assert site.ec2 is not None
    ec2 = site.ec2.model_copy(update={"prices": {"c5.xlarge": 0.2, "x9.custom": 0.5}})
    assert sized_types(ec2, ["x9.custom", "c5.xlarge", "nope"]) == [
        SizedType("x9.custom", 12, 24000, 0.5),
        SizedType("c5.xlarge", 4, 8192, 0.2),
    ]


# --- the validator --------------------------------------------------------------------


def big_atlas(**ec2: object) -> dict[str, object]:
    from tests.factories import BASE_SITE

    atlas, cms = BASE_SITE["vos"]
    return {
        "vos": [{**atlas, "flavor": {"cores": 32, "memory_mb": 64000}}, cms],
        "ec2": {"instance_types": {"atlas": ["c5.2xlarge"], "cms": ["c5.xlarge"]}, **ec2},
    }


def test_a_type_that_cannot_carry_the_flavor_is_an_error_naming_both_figures():
    with pytest.raises(ConfigError) as caught:
        make_site(**big_atlas(prices={"c5.2xlarge": 0.34}))
    (problem,) = caught.value.problems
    assert (
        "instance type c5.2xlarge (8 vCPUs, 16384 MB) cannot carry VO atlas's flavor "
        "(32 cores, 64000 MB)"
    ) in problem


def test_sized_to_jobs_smaller_types_are_fine_but_one_must_carry_the_flavor():
    prices = {"c5.2xlarge": 0.34, "c6i.8xlarge": 1.36}
    with pytest.raises(ConfigError) as caught:
        make_site(**big_atlas(prices=prices, worker_sizing="jobs"))
    assert (
        "no instance type can carry VO atlas's flavor (32 cores, 64000 MB): the largest, "
        "c5.2xlarge, has 8 vCPUs, 16384 MB"
    ) in caught.value.problems[0]
    site = big_atlas(prices=prices, worker_sizing="jobs")
    site["ec2"]["instance_types"]["atlas"] = ["c5.2xlarge", "c6i.8xlarge"]  # type: ignore[index]
    assert make_site(**site).ec2 is not None


def test_every_type_needs_a_size_and_the_sites_own_entry_wins():
    with pytest.raises(ConfigError) as caught:
        make_site(ec2={"instance_types": {"atlas": ["x9.custom"]}, "prices": {"x9.custom": 1}})
    assert "instance type x9.custom of VO atlas has no entry in ec2.instance_sizes" in str(
        caught.value.problems
    )
    # a site that says c5.xlarge has 2 vCPUs is believed: then it cannot carry 4 cores
    with pytest.raises(ConfigError) as small:
        make_site(ec2={"instance_sizes": {"c5.xlarge": {"vcpus": 2, "memory_mb": 8192}}})
    assert "c5.xlarge (2 vCPUs, 8192 MB) cannot carry VO atlas's flavor" in str(
        small.value.problems
    )


# --- the planner ----------------------------------------------------------------------


def sized_site(types: list[str] | None = None, max_nodes: int = 50):
    """atlas: 32-core flavor, cloud only (no local host), c5/c6i types chosen by job size."""
    from tests.factories import BASE_SITE

    atlas, cms = BASE_SITE["vos"]
    cloud = {"allowed": True, "max_nodes": 50, "max_hourly_cost": 100.0}
    return make_site(
        vos=[
            {
                **atlas,
                "flavor": {"cores": 32, "memory_mb": 64000},
                "max_nodes": max_nodes,
                "cloud": cloud,
            },
            {**cms, "cloud": {"allowed": False}},
        ],
        local={"hosts": []},
        ec2={
            "instance_types": {
                "atlas": types or ["c5.xlarge", "c5.2xlarge", "c5.4xlarge", "c6i.8xlarge"],
                "cms": [],
            },
            "prices": {
                "c5.xlarge": 0.17,
                "c5.2xlarge": 0.34,
                "c5.4xlarge": 0.68,
                "c5.9xlarge": 1.53,
                "c6i.8xlarge": 1.36,
            },
            "worker_sizing": "jobs",
            "max_instances": 50,
            "max_hourly_cost": 100.0,
        },
        policy={"max_boots_per_pass": 50},
    )


def observe(job_list=(), nodes=()) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=())


def test_the_planner_boots_each_cloud_worker_of_its_chosen_type_and_size():
    site = sized_site()
    p = plan(observe(jobs("atlas", 16, cores=1, memory_mb=1000)), site, NOW)
    # one flavor worker's worth of 1-core jobs: four full c5.xlarge, not a half-empty
    # 32-core c6i.8xlarge (the flavor)
    assert [(b.instance_type, b.cores, b.memory_mb) for b in p.boots] == [
        ("c5.xlarge", 4, 8192)
    ] * 4
    assert {b.hourly_cost for b in p.boots} == {0.17}
    assert "$0.0425 per core-hour used" in p.boots[0].reason
    wide = plan(observe(jobs("atlas", 1, cores=32, memory_mb=1000)), site, NOW)
    assert [(b.instance_type, b.cores) for b in wide.boots] == [("c6i.8xlarge", 32)]


def test_a_flavor_site_boots_every_worker_of_the_flavor_on_the_first_type():
    site = make_site()  # worker_sizing: flavor (the default)
    p = plan(observe(jobs("atlas", 2, cores=1, memory_mb=100)), site, NOW)
    assert [(b.instance_type, b.cores, b.memory_mb) for b in p.boots] == [("c5.xlarge", 4, 8000)]


def test_the_wants_become_the_workers_chosen_with_nothing_short():
    """Twelve 8-core jobs want 3 flavor workers (32 cores each); sized, they are twelve
    full c5.2xlarge (the same $0.0425 a core as a full c6i.8xlarge, released one by one)."""
    p = plan(observe(jobs("atlas", 12, cores=8, memory_mb=1000)), sized_site(), NOW)
    assert [b.instance_type for b in p.boots] == ["c5.2xlarge"] * 12
    (decision,) = [d for d in p.decisions if d.vo == "atlas"]
    assert (decision.nodes_needed, decision.wanted, decision.short) == (3, 12, ())


def test_fewer_larger_workers_close_the_wants_they_hold():
    """36 one-core jobs want 2 flavor workers (36 > 32 cores); one c5.9xlarge holds them."""
    site = sized_site(types=["c6i.8xlarge", "c5.9xlarge"])
    p = plan(observe(jobs("atlas", 36, cores=1, memory_mb=1000)), site, NOW)
    assert [(b.instance_type, b.cores) for b in p.boots] == [("c5.9xlarge", 36)]
    (decision,) = [d for d in p.decisions if d.vo == "atlas"]
    assert (decision.nodes_needed, decision.wanted, decision.short) == (2, 1, ())


def test_max_nodes_cuts_what_sizing_wants_and_says_so():
    site = sized_site(max_nodes=5)
    p = plan(observe(jobs("atlas", 12, cores=8, memory_mb=1000)), site, NOW)
    assert len(p.boots) == 5
    (decision,) = [d for d in p.decisions if d.vo == "atlas"]
    assert [s.reason.cause for s in decision.short] == [Cause.VO_MAX_NODES]
    assert decision.wanted == len(p.boots) + decision.short_count


def booting(id: str, cores: int, memory_mb: int):
    return node(
        id,
        "atlas",
        state=NodeState.BOOTING,
        lrm=LrmNodeState.ABSENT,
        provider=ProviderKind.EC2,
        idle_since=None,
        cores=cores,
        memory_mb=memory_mb,
        cost=0.1,
        boot_deadline=NOW + 900,
    )


def test_a_small_booting_worker_is_not_counted_as_a_whole_flavor_worker():
    """A 4-vCPU worker booting holds 4 of 32 one-core jobs: the rest still want room."""
    site = sized_site()
    p = plan(observe(jobs("atlas", 32, cores=1), [booting("e1", 4, 8192)]), site, NOW)
    assert sum(b.cores for b in p.boots) >= 28


def test_a_large_booting_worker_counts_for_all_it_holds():
    """A 64-core worker booting holds two flavor workers' worth: no new boot for them."""
    site = sized_site()
    big = booting("e1", 64, 131072)
    assert plan(observe(jobs("atlas", 64, cores=1), [big]), site, NOW).boots == ()


# --- properties, over the planner property tests' worlds with sizing on -----------------

SIZED_TYPES = {
    "atlas": ["c5.xlarge", "c5.large", "c5.2xlarge"],
    "cms": ["c5.2xlarge", "c5.4xlarge"],
}
SIZED_PRICES = {"c5.large": 0.085, "c5.xlarge": 0.17, "c5.2xlarge": 0.34, "c5.4xlarge": 0.68}


def sized(site):
    assert site.ec2 is not None
    ec2 = site.ec2.model_copy(
        update={"worker_sizing": "jobs", "instance_types": SIZED_TYPES, "prices": SIZED_PRICES}
    )
    return site.model_copy(update={"ec2": ec2})


@settings(max_examples=200, deadline=None)
@given(sites.map(sized), job_lists, node_lists, host_lists)
def test_sized_boots_keep_every_limit_and_the_numbers_add_up(site, job_list, nodes, hosts):
    p = plan(Observation(tuple(job_list), tuple(nodes), tuple(hosts)), site, NOW)
    ec2 = site.ec2
    assert len(p.boots) <= site.policy.max_boots_per_pass
    cloud_new = [b for b in p.boots if b.provider is ProviderKind.EC2]
    for boot in cloud_new:
        size = ec2.size_of(boot.instance_type)
        assert boot.instance_type in SIZED_TYPES[boot.vo]
        assert (boot.cores, boot.memory_mb) == (size.vcpus, size.memory_mb)
        assert boot.hourly_cost == SIZED_PRICES[boot.instance_type]
    assert_cloud_limits(site, nodes, p)
    for d in p.decisions:
        assert d.wanted == d.boots_local + d.boots_cloud + d.reclaimed + d.short_count, d.summary()


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.integers(1, 40), st.integers(0, 80_000)), st.integers(1, 50), max_size=5
    ),
    st.lists(st.sampled_from(ALL), min_size=1, max_size=4, unique=True),
    st.integers(0, 30),
)
def test_every_share_is_sized_once_on_a_type_that_holds_it(shapes, types, max_workers):
    sizing = choose_workers(shapes, types, max_workers)
    assert len(sizing.workers) <= max_workers
    for worker in sizing.workers:
        kind = worker.instance_type
        assert worker.cores_used <= kind.vcpus and worker.memory_mb_used <= kind.memory_mb
    for shape, count in sizing.unfit.items():
        assert not any(t.fits(shape) for t in types) and shapes[shape] == count
    sized_jobs = sum(w.jobs for w in sizing.workers)
    assert sized_jobs + sum(sizing.unfit.values()) + sum(sizing.left.values()) == sum(
        shapes.values()
    )
    if sizing.left:
        assert len(sizing.workers) == max_workers  # left over only for want of workers
