"""Cores that running jobs free within a cloud boot, by their walltimes, are waited for."""

from __future__ import annotations

import pytest

from elastic.model import Host, Job, LrmNodeState, Observation, ProviderKind
from elastic.planning import plan
from elastic.planning.demand import freeing_cores
from tests.factories import jobs, make_site, node

NOW = 10_000.0
FULL = Host("hv1", 16, 64000, 0, 32000)  # no local room


def running(ends_in: float | None, walltime: int | None = 3600, cores: int = 4) -> Job:
    start = NOW + (ends_in or 0) - (walltime or 0)
    return Job("r", cores=cores, vo="atlas", running=True, walltime_s=walltime, start_time=start)


def cloud_boots(job_list) -> int:
    busy = node("a1", lrm=LrmNodeState.BUSY, running=1, idle_since=None)
    obs = Observation(jobs=tuple(job_list), nodes=(busy,), hosts=(FULL,))
    p = plan(obs, make_site(policy={"cloud_boot_s": 180}), NOW)
    return sum(1 for b in p.boots if b.provider is ProviderKind.EC2)


def test_a_worker_freed_before_a_cloud_boot_is_waited_for():
    assert cloud_boots([*jobs("atlas", 1), running(ends_in=100)]) == 0


@pytest.mark.parametrize(
    "job",
    [
        running(ends_in=1000),  # frees after a cloud worker would be taking jobs
        running(ends_in=-5),  # past its walltime: the LRM did not enforce it
        running(ends_in=None, walltime=None),  # no walltime: no promise
        running(ends_in=100, cores=2),  # half a worker freeing does not hold a whole one
    ],
)
def test_otherwise_the_cloud_boots(job):
    assert cloud_boots([*jobs("atlas", 1), job]) == 1


def test_freeing_cores_counts_per_vo_and_array_instances():
    array = Job("a", cores=2, vo="cms", count=3, running=True, walltime_s=60, start_time=NOW)
    pending = Job("p", cores=8, vo="cms", walltime_s=10)
    assert freeing_cores([array, pending, running(ends_in=30)], NOW, 120) == {
        "cms": 6,
        "atlas": 4,
    }
