"""The simulator: scheduling, the event loop with the real planner, metrics, baselines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from elastic.config import load_site
from elastic.model import NodeSpec, ProviderKind
from elastic.sim.bounds import fluid_bound_cost, overflow_bound_cost
from elastic.sim.cluster import Cluster, JobRecord, SimNode
from elastic.sim.compare import check_targets, peak_demand_cores, run_all, scaled_site
from elastic.sim.engine import SimConfig, SimResult, Simulation
from elastic.sim.metrics import compute, percentile
from elastic.sim.policies import POLICIES
from elastic.sim.workload import SCENARIOS, SimJob, from_swf, scenario

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def site():
    return load_site(REPO / "benchmarks/site-bench.yaml")


def sim_node(
    node_id: str = "n",
    vo: str = "atlas",
    provider: ProviderKind = ProviderKind.LIBVIRT,
    location: str = "h",
    *,
    cores: int = 8,
    cost: float = 0.0,
    ready_at: float = 0.0,
) -> SimNode:
    """A worker launched at 0 s, of 8 cores and 16 GB unless told otherwise."""
    spec = NodeSpec(node_id, vo, provider, location, cores, 16000, hourly_cost=cost)
    return SimNode(spec, 0.0, ready_at)


def node(cores: int = 8) -> SimNode:
    return sim_node(cores=cores)


def test_easy_backfill_lets_short_jobs_pass_without_delaying_the_head():
    cluster = Cluster()
    cluster.nodes["n"] = node(8)
    long_job = SimJob(0, "atlas", 6, 1, 0.0, 1000.0)
    wide = SimJob(1, "atlas", 8, 1, 0.0, 100.0)  # waits for the long job: reservation at 1000
    short = SimJob(2, "atlas", 2, 1, 0.0, 500.0)  # ends before 1000: may backfill
    too_long = SimJob(3, "atlas", 2, 1, 0.0, 5000.0)  # would delay the wide job: must wait
    for job in (long_job, wide, short, too_long):
        cluster.submit(job)
    cluster.schedule(0.0)
    started = {j for j, r in cluster.records.items() if r.start is not None}
    assert started == {0, 2}


def test_the_real_planner_serves_a_step_and_cleans_up(site):
    jobs = scenario("step", [v.name for v in site.vos], hours=4)
    scaled = scaled_site(site, jobs, 0.75)
    result = Simulation(scaled, jobs, POLICIES["elastic"](scaled)[0], SimConfig()).run("elastic")
    assert result.unfinished == 0
    metrics = compute(result, scaled, SimConfig(), step_at=3600.0)
    assert metrics.cloud_cost > 0 and metrics.boots > len(scaled.local.hosts)
    assert metrics.time_to_capacity_s is not None and metrics.time_to_capacity_s < 600
    assert all(n.destroyed is not None for n in result.nodes)


def test_every_policy_finishes_the_work_and_orders_as_expected(site):
    jobs = scenario("poisson", [v.name for v in site.vos], hours=3)
    comparison = run_all(scaled_site(site, jobs, 0.75), jobs, SimConfig())
    m = comparison.metrics
    assert set(m) == set(POLICIES)
    assert all(x.unfinished == 0 for x in m.values())
    assert m["static"].cloud_cost == 0 and m["elastic-localonly"].cloud_cost == 0
    assert m["always-cloud"].cloud_cost > m["elastic"].cloud_cost
    assert m["elastic"].p95_wait_s <= m["elastic-localonly"].p95_wait_s
    assert len(comparison.targets) == 4


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenarios_are_seeded_and_reproducible(name, site):
    vos = [v.name for v in site.vos]
    assert scenario(name, vos, seed=3, hours=2) == scenario(name, vos, seed=3, hours=2)
    assert scenario(name, vos, seed=3, hours=2)


def test_swf_trace_and_demand_envelope(site):
    jobs = from_swf(REPO / "tests/fixtures/swf/gridsim_LANL-O2K_excerpt.swf", site.vos)
    assert len(jobs) == 10 and {j.vo for j in jobs} <= {v.name for v in site.vos}
    two = [SimJob(0, "atlas", 4, 1, 0.0, 100.0), SimJob(1, "atlas", 4, 1, 50.0, 100.0)]
    assert peak_demand_cores(two) == 8


def test_fluid_bound_is_the_excess_over_local_cores_in_whole_workers(site):
    jobs = [SimJob(i, "atlas", 8, 1, 0.0, 3600.0) for i in range(3)]
    one_host = site.model_copy(
        update={
            "local": site.local.model_copy(
                update={"hosts": [site.local.hosts[0].model_copy(update={"cores": 16})]}
            )
        }
    )
    per_core_h = 0.34 / 8
    assert fluid_bound_cost(jobs, one_host) == pytest.approx(8 * per_core_h)
    # two VOs cannot share a worker: each 1-core job holds a whole 8-core worker
    split = [SimJob(0, "atlas", 1, 1, 0.0, 3600.0), SimJob(1, "cms", 1, 1, 0.0, 3600.0)]
    split += [SimJob(2, "atlas", 8, 1, 0.0, 3600.0)]
    assert fluid_bound_cost(split, one_host) == pytest.approx(8 * per_core_h)
    assert fluid_bound_cost(split[:2], one_host) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) in {2.0, 3.0}


def test_cloud_time_splits_into_boot_busy_and_idle(site):
    job = SimJob(0, "atlas", 4, 1, 0.0, 300.0)
    vm = sim_node("v", provider=ProviderKind.EC2, location="us-east-1", cost=0.36, ready_at=100.0)
    vm.busy_seconds, vm.destroyed = 300.0, 500.0
    local = sim_node("l", location="sim0000", ready_at=60.0)
    local.destroyed = 30.0  # destroyed while booting: short-lived, nothing billed
    record = JobRecord(job, 100.0, 400.0, "v")
    result = SimResult("elastic", [record], [vm, local], 500.0, [])
    m = compute(result, site, SimConfig(billing_minimum_s=60.0))
    assert m.billed_cloud_h == pytest.approx(500 / 3600)
    assert m.boot_billed_cloud_h == pytest.approx(100 / 3600)
    assert m.idle_billed_cloud_h == pytest.approx(100 / 3600)  # ready from 100, busy 300 s
    assert m.cloud_cost == pytest.approx(0.36 * 500 / 3600)
    assert (m.boots, m.short_lived_vms) == (2, 2)
    assert m.idle_local_h == pytest.approx(30 / 3600)
    assert m.mean_wait_s == 100.0 and m.awrt_s == 400.0


def test_walltimes_let_the_real_planner_wait_for_a_worker_about_to_free(site):
    one_worker = site.model_copy(
        update={
            "local": site.local.model_copy(
                update={"hosts": [site.local.hosts[0].model_copy(update={"cores": 8})]}
            )
        }
    )

    def cloud_boots(walltimes: bool) -> int:
        first = SimJob(0, "atlas", 8, 1, 0.0, 400.0, 420.0 if walltimes else None)
        second = SimJob(1, "atlas", 8, 1, 300.0, 100.0, 120.0 if walltimes else None)
        policy = POLICIES["elastic"](one_worker)[0]
        result = Simulation(one_worker, [first, second], policy, SimConfig()).run("elastic")
        assert result.unfinished == 0
        return sum(1 for n in result.nodes if n.spec.provider is ProviderKind.EC2)

    # the second job has waited cloud_burst_after_s while the first one's walltime ends
    # within cloud_boot_s: with walltimes it waits for the local worker, without it bursts
    assert (cloud_boots(walltimes=True), cloud_boots(walltimes=False)) == (0, 1)


def test_spot_interruptions_requeue_jobs_and_the_planner_replaces_the_capacity(site):
    jobs = scenario("step", [v.name for v in site.vos], hours=3)
    scaled = scaled_site(site, jobs, 0.75)
    policy = POLICIES["elastic"](scaled)[0]
    calm = Simulation(scaled, jobs, policy, SimConfig()).run("elastic")
    stormy_config = SimConfig(spot_interruptions_per_h=2.0)
    stormy = Simulation(scaled, jobs, policy, stormy_config).run("elastic")
    m = compute(stormy, scaled, stormy_config)
    assert compute(calm, scaled, SimConfig()).interrupted_vms == 0
    assert m.interrupted_vms > 0 and m.requeued_jobs > 0
    assert stormy.unfinished == 0  # every requeued job ran again to its end
    assert all(n.spec.provider is ProviderKind.EC2 for n in stormy.nodes if n.interrupted)
    assert m.boots > compute(calm, scaled, SimConfig()).boots  # lost VMs were replaced
    restarted = [r for r in stormy.jobs if r.restarts]
    assert all(r.end is not None and r.start is not None for r in restarted)
    assert all(r.end - r.start == pytest.approx(r.job.runtime) for r in restarted)


def _hosts(site, cores: int):
    host = site.local.hosts[0].model_copy(update={"cores": cores})
    return site.model_copy(update={"local": site.local.model_copy(update={"hosts": [host]})})


def test_overflow_bound_charges_whole_runtimes_of_the_jobs_the_queue_order_overflows(site):
    per_core_h = 0.34 / 8
    one_host = _hosts(site, 16)
    three = [SimJob(i, "atlas", 8, 1, 0.0, 3600.0) for i in range(3)]
    # the third job in queue order cannot start within the wait: its whole hour is cloud
    assert overflow_bound_cost(three, one_host, 120) == pytest.approx(8 * per_core_h)
    # whereas the fluid bound charges only the excess while it lasts
    short_first = [SimJob(0, "atlas", 8, 1, 0.0, 100.0), SimJob(1, "atlas", 8, 1, 0.0, 100.0)]
    long_last = [*short_first, SimJob(2, "atlas", 8, 1, 0.0, 3600.0)]
    # cores free at 100 s: within a 120 s wait the long job starts locally, within 60 s not
    assert overflow_bound_cost(long_last, one_host, 120) == 0.0
    assert overflow_bound_cost(long_last, one_host, 60) == pytest.approx(8 * per_core_h)
    assert fluid_bound_cost(long_last, one_host) == pytest.approx(8 * 100 / 3600 * per_core_h)


def test_overflow_bound_gives_each_vo_whole_workers_of_its_own(site):
    one_worker = _hosts(site, 8)
    jobs = [SimJob(0, "atlas", 1, 1, 0.0, 3600.0), SimJob(1, "cms", 1, 1, 0.0, 3600.0)]
    # seven of the host's eight cores are free, but in atlas's worker: cms's job overflows
    assert overflow_bound_cost(jobs, one_worker, 120) == pytest.approx(0.34 / 8)
    assert (
        overflow_bound_cost([jobs[0], SimJob(1, "atlas", 1, 1, 0.0, 3600.0)], one_worker, 120) == 0
    )


def test_overflow_bound_lets_a_job_start_in_a_gap_ahead_of_earlier_ones(site):
    one_host = _hosts(site, 16)
    jobs = [
        SimJob(0, "atlas", 8, 1, 0.0, 100.0),  # half the host until 100 s
        SimJob(1, "atlas", 16, 1, 0.0, 1000.0),  # the whole host from 100 s, within its wait
        SimJob(2, "atlas", 8, 1, 10.0, 50.0),  # backfills the free half before 100 s
        SimJob(3, "atlas", 8, 1, 10.0, 200.0),  # too long for that gap: cloud
        SimJob(4, "atlas", 40, 1, 30.0, 10.0),  # wider than every local core: cloud
    ]
    per_core_h = 0.34 / 8
    expected = (8 * 200 + 40 * 10) / 3600 * per_core_h
    assert overflow_bound_cost(jobs, one_host, 120) == pytest.approx(expected)


def test_a_run_that_leaves_jobs_unfinished_meets_no_target(site):
    jobs = scenario("step", [v.name for v in site.vos], hours=2)
    comparison = run_all(scaled_site(site, jobs, 0.75), jobs, SimConfig(), ["elastic"])
    stuck = replace(comparison.metrics["elastic"], unfinished=3)
    checks = check_targets({"elastic": stuck}, comparison.lower_bound)
    assert checks and not any(ok for _, ok, _ in checks)
    assert all("elastic left 3 job(s) unfinished" in detail for _, _, detail in checks)


def test_local_share_is_shown_against_the_configured_shares_of_the_vos_that_ran(site):
    nodes = [sim_node(vo, vo, location="sim0000") for vo in ("atlas", "lhcb")]
    for n, busy in zip(nodes, (600.0, 200.0), strict=True):
        n.destroyed, n.busy_seconds = 1000.0, busy
    records = [
        JobRecord(SimJob(0, "atlas", 8, 1, 0.0, 600.0), 0.0, 600.0, "atlas"),
        JobRecord(SimJob(1, "lhcb", 8, 1, 0.0, 200.0), 0.0, 200.0, "lhcb"),
    ]
    m = compute(SimResult("elastic", records, nodes, 1000.0, []), site, SimConfig())
    assert m.local_share == {"atlas": pytest.approx(0.75), "lhcb": pytest.approx(0.25)}
    # cms ran nothing: atlas (50) and lhcb (20) split the room 5:2 by site.yaml
    assert m.configured_share == {"atlas": pytest.approx(5 / 7), "lhcb": pytest.approx(2 / 7)}


def test_the_ablations_change_one_setting_of_the_site_and_nothing_else(site):
    """Each ablation is the real planner on the site with one rule off: the settings it
    names differ, every other one is the site's own."""
    site = site.model_copy(
        update={"policy": site.policy.model_copy(update={"cloud_burst_after_s": 120})}
    )
    changed = {
        "elastic-noreclaim": {"reclaim_idle": False},
        "elastic-norepatr": {"repatriate_cloud": False},
        "elastic-noburstdelay": {"cloud_burst_after_s": 0},
    }
    for name, settings in changed.items():
        policy, ablated = POLICIES[name](site)
        assert policy is POLICIES["elastic"](site)[0]
        before, after = site.policy.model_dump(), ablated.policy.model_dump()
        assert {k: v for k, v in after.items() if before[k] != v} == settings, name
        assert ablated.model_copy(update={"policy": site.policy}) == site, name
