"""Each faithful baseline's rule, in a small situation: the simulated site, a few nodes,
and the policy's decision at chosen instants."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.config import load_site
from elastic.model import Boot, Destroy, NodeSpec, ProviderKind
from elastic.sim.baselines import clues, cluster_autoscaler, slurm_powersave, starcluster
from elastic.sim.cluster import JobRecord, SimNode
from elastic.sim.engine import SimConfig, Simulation
from elastic.sim.workload import SimJob

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def site():
    """The bench site with one 16-core host: room for two 8-core workers."""
    site = load_site(REPO / "benchmarks/site-bench.yaml")
    host = site.local.hosts[0].model_copy(update={"cores": 16, "memory_mb": 64000})
    return site.model_copy(update={"local": site.local.model_copy(update={"hosts": [host]})})


def sim_with(site, policy, nodes=(), jobs=()) -> Simulation:
    sim = Simulation(site, list(jobs), policy, SimConfig())
    for node in nodes:
        sim.cluster.nodes[node.id] = node
    for job in jobs:
        sim.cluster.submit(job)
    return sim


def run_on(sim: Simulation, node: SimNode, cores: int) -> None:
    """A job of ``cores`` running on ``node`` from t = 0, for good."""
    job = SimJob(1000 + len(sim.cluster.records), node.spec.vo, cores, cores * 1000, 0.0, 1e6)
    sim.cluster.records[job.id] = JobRecord(job, 0.0, None, node.id)
    node.start(job, 0.0)


def vm(name: str, *, cloud: bool = False, launched: float = 0.0, ready: float = 0.0) -> SimNode:
    spec = NodeSpec(
        name,
        "atlas",
        ProviderKind.EC2 if cloud else ProviderKind.LIBVIRT,
        "us-east-1" if cloud else "template",
        8,
        16000,
        "c5.2xlarge" if cloud else "",
        0.34 if cloud else 0.0,
    )
    node = SimNode(spec, launched, ready)
    node.idle_since = ready
    return node


def step(sim: Simulation, now: float):
    """The policy's plan at ``now``, applied."""
    plan = sim.decide(now)
    sim.act(plan, now)
    return plan


def kinds(plan) -> list[tuple[str, str]]:
    return [(a.kind, getattr(a, "provider", "")) for a in plan.actions]


def destroyed(plan) -> set[str]:
    return {a.node_id for a in plan.actions if isinstance(a, Destroy)}


def test_clues_keeps_an_idle_node_until_idle_time_1800_s(site):
    policy, _ = clues.make(site)
    sim = sim_with(site, policy, [vm("n1")])
    assert destroyed(step(sim, 1799.0)) == set()
    assert destroyed(step(sim, 1800.0)) == {"n1"}


def test_clues_powers_on_per_request_and_stops_at_max_booting_nodes(site):
    policy, _ = clues.make(site)
    jobs = [SimJob(i, "atlas", 8, 8000, 0.0, 600.0) for i in range(5)]
    plan = sim_with(site, policy, jobs=jobs).decide(0.0)
    assert len([a for a in plan.actions if isinstance(a, Boot)]) == clues.MAX_BOOTING_NODES
    booting = [vm(f"b{i}", launched=0.0, ready=1e9) for i in range(2)]
    policy, _ = clues.make(site)
    assert not sim_with(site, policy, booting, jobs).decide(10.0).actions  # two booting


def test_clues_gives_a_node_up_no_second_request_within_reconsider_job_time(site):
    policy, _ = clues.make(site)
    job = SimJob(0, "atlas", 8, 8000, 0.0, 600.0)
    booting = vm("b0", launched=0.0, ready=1e9)
    sim = sim_with(site, policy, [booting], [job])
    assert not step(sim, 0.0).actions  # attended: the booting node will hold it
    sim.cluster.retire("b0", 30.0)  # its node is gone: the request still stands
    assert not step(sim, 30.0).actions
    assert kinds(step(sim, 61.0)) == [("boot", ProviderKind.LIBVIRT)]  # reconsidered


def test_starcluster_hourly_kills_an_idle_cloud_node_only_in_the_last_15_min_of_its_hour(site):
    hourly, _ = starcluster.make_hourly(site)
    node = vm("c1", cloud=True, launched=0.0, ready=100.0)
    sim = sim_with(site, hourly, [node])
    assert destroyed(step(sim, 44 * 60.0)) == set()
    assert destroyed(step(sim, 45 * 60.0)) == {"c1"}
    per_second, _ = starcluster.make_per_second(site)
    assert destroyed(sim_with(site, per_second, [vm("c2", cloud=True)]).decide(200.0)) == {"c2"}


def test_starcluster_adds_a_node_only_after_wait_time_and_one_per_iteration(site):
    busy = vm("n1")
    jobs = [SimJob(i, "atlas", 8, 8000, 0.0, 600.0) for i in range(3)]
    policy, _ = starcluster.make_per_second(site)
    sim = sim_with(site, policy, [busy], jobs)
    run_on(sim, busy, 8)
    assert not step(sim, starcluster.WAIT_TIME_S).actions  # waited exactly 900 s
    assert len(step(sim, starcluster.WAIT_TIME_S + 60).actions) == 1  # 3 queued, 1 added
    assert policy.interval_s == 60.0


def test_slurm_default_resume_timeout_marks_a_slow_boot_down_and_tuned_waits(site):
    no_local = site.model_copy(update={"local": site.local.model_copy(update={"hosts": []})})
    job = [SimJob(0, "atlas", 8, 8000, 0.0, 300.0)]
    default, _ = slurm_powersave.make_default(no_local)
    run = Simulation(no_local, job, default, SimConfig(boot_jitter=0.0)).run("d", horizon=3000)
    assert run.unfinished == 1  # every 120 s EC2 boot outlives ResumeTimeout 60 s
    assert all(n.ready_at == float("inf") for n in run.nodes)
    tuned, _ = slurm_powersave.make_tuned(no_local)
    assert Simulation(no_local, job, tuned, SimConfig()).run("t").unfinished == 0


def test_slurm_suspends_after_suspend_time_and_a_down_node_after_it_too(site):
    policy, _ = slurm_powersave.make_default(site)
    down = vm("d1", launched=0.0, ready=float("inf"))
    sim = sim_with(site, policy, [vm("n1"), down])
    assert destroyed(step(sim, 599.0)) == set()
    assert destroyed(step(sim, 600.0)) == {"n1"}
    assert destroyed(step(sim, 661.0)) == {"d1"}  # DOWN at 60 s, down for SuspendTime


def test_cluster_autoscaler_removes_a_node_unneeded_for_10_min_not_one_half_used(site):
    policy, _ = cluster_autoscaler.make(site)
    half = vm("half")
    sim = sim_with(site, policy, [vm("idle"), half])
    run_on(sim, half, 4)  # utilization 0.5: needed
    assert destroyed(step(sim, 0.0)) == set()
    assert destroyed(step(sim, 599.0)) == set()
    assert destroyed(step(sim, 600.0)) == {"idle"}


def test_cluster_autoscaler_scales_down_nothing_within_10_min_of_a_scale_up(site):
    policy, _ = cluster_autoscaler.make(site)
    sim = sim_with(site, policy, [vm("idle")])
    assert not step(sim, 0.0).actions  # unneeded from 0 s
    sim.cluster.submit(SimJob(0, "cms", 8, 8000, 300.0, 1e6))
    assert kinds(step(sim, 300.0)) == [("boot", ProviderKind.LIBVIRT)]
    sim.cluster.waiting.clear()
    assert destroyed(step(sim, 700.0)) == set()  # unneeded 700 s, but added at 300 s
    assert destroyed(step(sim, 900.0)) == {"idle"}
