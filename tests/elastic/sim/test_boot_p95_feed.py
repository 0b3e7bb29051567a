"""The simulator feeds the planner the boot p95 of its configured boots, so thresholds set
to ``auto`` follow the sweep's boot axis (issue 15)."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.config import load_site
from elastic.model import ProviderKind
from elastic.planning import plan
from elastic.sim.compare import burst_after_s
from elastic.sim.engine import SimConfig, Simulation, configured_boot_p95_s

REPO = Path(__file__).resolve().parents[3]
LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2


@pytest.fixture(scope="module")
def site():
    return load_site(REPO / "benchmarks/site-bench.yaml")


def test_the_p95_of_a_jittered_boot_is_its_delay_times_one_plus_nine_tenths_of_the_jitter():
    config = SimConfig(boot_delay_s={LOCAL: 60.0, EC2: 600.0}, boot_jitter=0.2)
    assert configured_boot_p95_s(config) == pytest.approx({LOCAL: 70.8, EC2: 708.0})


def test_every_observation_carries_the_configured_p95_from_the_first_pass(site):
    config = SimConfig(boot_delay_s={LOCAL: 60.0, EC2: 600.0}, boot_jitter=0.0)
    sim = Simulation(site, [], plan, config)
    assert sim.observation(0.0).boot_p95_s == {LOCAL: 60.0, EC2: 600.0}


def test_an_auto_burst_delay_follows_the_run_boot_time(site):
    auto = site.model_copy(
        update={"policy": site.policy.model_copy(update={"cloud_burst_after_s": "auto"})}
    )
    slow = SimConfig(boot_delay_s={LOCAL: 60.0, EC2: 600.0}, boot_jitter=0.0)
    fast = SimConfig(boot_delay_s={LOCAL: 60.0, EC2: 60.0}, boot_jitter=0.0)
    assert (burst_after_s(auto, slow), burst_after_s(auto, fast)) == (600, 60)
    assert burst_after_s(site, slow) == 120  # the bench site's own number stays
