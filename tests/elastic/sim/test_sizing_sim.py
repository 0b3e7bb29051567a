"""The simulator boots cloud workers of the size the planner chose and bills each one its
own type's price (issue 15); the baselines keep one type, the first listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.config import Site, load_site
from elastic.model import ProviderKind
from elastic.sim.bounds import cheapest_core_hour
from elastic.sim.engine import SimConfig, Simulation
from elastic.sim.metrics import compute
from elastic.sim.policies import POLICIES
from elastic.sim.workload import SimJob

REPO = Path(__file__).resolve().parents[3]
TYPES = ["c5.2xlarge", "c5.large", "c5.xlarge", "c5.4xlarge"]


def cloud_only(sizing: str) -> Site:
    """The bench site with no local host: every job goes to EC2."""
    site = load_site(REPO / "benchmarks/site-bench.yaml")
    assert site.ec2 is not None
    ec2 = site.ec2.model_copy(
        update={
            "worker_sizing": sizing,
            "instance_types": {vo.name: TYPES for vo in site.vos},
            "prices": {
                "c5.large": 0.085,
                "c5.xlarge": 0.17,
                "c5.2xlarge": 0.34,
                "c5.4xlarge": 0.68,
            },
        }
    )
    return site.model_copy(
        update={"ec2": ec2, "local": site.local.model_copy(update={"hosts": []})}
    )


#: 2-core jobs of different lengths: on 8-core flavor workers, four share one and its
#: cores stand idle from the first job's end to the last's
JOBS = [SimJob(i, "atlas", 2, 2000, 0.0, 600.0 * (1 + i % 4)) for i in range(16)]


def run(site: Site, policy: str = "elastic"):
    config = SimConfig(boot_jitter=0.0)
    result = Simulation(site, JOBS, POLICIES[policy](site)[0], config).run(policy)
    assert result.unfinished == 0
    return result, compute(result, site, config)


def test_sized_workers_are_booted_of_their_type_and_billed_its_price():
    result, metrics = run(cloud_only("jobs"))
    cloud = [n for n in result.nodes if n.spec.provider is ProviderKind.EC2]
    assert cloud and {(n.spec.instance_type, n.spec.cores) for n in cloud} == {("c5.large", 2)}
    assert {n.spec.hourly_cost for n in cloud} == {0.085}
    billed = sum(max(60.0, n.destroyed - n.launched) / 3600 * 0.085 for n in cloud)
    assert metrics.cloud_cost == pytest.approx(billed)


def test_sizing_costs_less_than_the_flavor_on_jobs_smaller_than_it():
    _, flavor = run(cloud_only("flavor"))
    _, sized = run(cloud_only("jobs"))
    assert sized.cloud_cost < flavor.cloud_cost


def test_a_baseline_keeps_the_first_listed_type_and_the_flavor():
    result, _ = run(cloud_only("jobs"), "clues")
    cloud = [n for n in result.nodes if n.spec.provider is ProviderKind.EC2]
    assert cloud and {(n.spec.instance_type, n.spec.cores) for n in cloud} == {("c5.2xlarge", 8)}


def test_the_offline_bound_prices_a_sized_worker_by_its_own_vcpus():
    """$0.085 for c5.large's 2 vCPUs, not for the 8-core flavor: else the bound is 4x low."""
    assert cheapest_core_hour(cloud_only("jobs")) == pytest.approx(0.0425)
