"""Targets that cannot be gamed: a cheap run that kept jobs waiting is not within the
bound, and "at least as good" is both figures within 2 %."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from elastic.config import load_site
from elastic.sim.compare import (
    BOUND_TARGET,
    PARETO_TARGET,
    check_targets,
    pareto_ok,
    run_all,
    scaled_site,
)
from elastic.sim.engine import SimConfig
from elastic.sim.workload import scenario

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def runs():
    site = load_site(REPO / "benchmarks/site-bench.yaml")
    jobs = scenario("step", [v.name for v in site.vos], hours=2)
    return run_all(scaled_site(site, jobs, 0.75), jobs, SimConfig(), ["elastic", "clues"])


def bound_check(checks):
    label = BOUND_TARGET.format(factor=1.25)
    return next(ok for name, ok, _ in checks if name == label)


def test_cost_below_the_bound_with_its_wait_unmet_is_not_met(runs):
    e = runs.metrics["elastic"]
    cheap = replace(e, cloud_cost=0.0, p95_wait_s=runs.wait_limit_s + 1)
    assert not bound_check(
        check_targets({"elastic": cheap}, runs.lower_bound, 0, runs.wait_limit_s)
    )
    quick = replace(cheap, p95_wait_s=runs.wait_limit_s)
    assert bound_check(check_targets({"elastic": quick}, runs.lower_bound, 0, runs.wait_limit_s))
    dear = replace(quick, cloud_cost=1.25 * runs.lower_bound + 0.01)
    assert not bound_check(check_targets({"elastic": dear}, runs.lower_bound, 0, runs.wait_limit_s))


def test_at_least_as_good_means_cost_and_p95_both_within_two_percent(runs):
    b = replace(runs.metrics["clues"], cloud_cost=100.0, p95_wait_s=1000.0, unfinished=0)
    e = replace(b, policy="elastic")
    assert pareto_ok(replace(e, cloud_cost=101.9, p95_wait_s=1020.0), b)
    assert not pareto_ok(replace(e, cloud_cost=103.0), b)
    assert not pareto_ok(replace(e, p95_wait_s=1040.0), b)
    assert pareto_ok(e, replace(b, unfinished=1))  # a baseline that did not finish loses
    assert not pareto_ok(replace(e, unfinished=1), b)
    checks = check_targets({"elastic": replace(e, cloud_cost=200.0), "clues": b}, 1e9)
    pareto = next((ok, detail) for name, ok, detail in checks if name == PARETO_TARGET)
    assert pareto == (False, "behind clues")


def test_local_scale_scales_the_sites_own_hosts_not_replaces_them():
    from elastic.sim.compare import scale_hosts

    site = load_site(REPO / "benchmarks/site-bench.yaml")
    host = site.local.hosts[0].model_copy(update={"reserved_cores": 4, "reserved_memory_mb": 0})
    site = site.model_copy(update={"local": site.local.model_copy(update={"hosts": [host]})})
    half = scale_hosts(site, 0.5).local.hosts
    assert [h.name for h in half] == [host.name] and half[0].uri == host.uri
    assert (half[0].cores, half[0].memory_mb) == (4 + 30, host.memory_mb // 2)
