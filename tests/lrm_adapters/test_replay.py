"""The replay LRM: arrivals, FCFS on registered nodes, drain, remove, persistence."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from elastic.model import LrmNodeState
from elastic.vomatch import label_snapshot, vo_of
from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.replay import ReplayAdapter
from tests.factories import make_site

VOS = make_site().vos


def adapter_for(workload: Path, state: Path, vos=VOS, **kwargs) -> ReplayAdapter:
    """The replay LRM, routing jobs by the site's match rules as the wiring has it."""
    return ReplayAdapter(workload, state, vos, route=partial(vo_of, vos=vos), **kwargs)


WORKLOAD = """\
jobs:
  - {id: a, project: atlas, cores: 2, count: 3, runtime_s: 100}
  - {id: late, project: cms, cores: 4, submit_s: 50, runtime_s: 10}
  - {id: h, project: atlas, cores: 1, state: held}
  - {id: x, user: nobody, cores: 1}
"""


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def replay(tmp_path: Path):
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    clock = Clock()
    adapter = adapter_for(tmp_path / "w.yaml", tmp_path / "s.json", clock=clock)
    return adapter, clock


def test_jobs_arrive_run_on_registered_nodes_and_finish(replay):
    adapter, clock = replay
    first = label_snapshot(adapter.snapshot(), VOS)  # as the engine does
    assert [(j.id, j.vo, j.runnable) for j in first.jobs] == [
        ("a", "atlas", True),
        ("a", "atlas", True),
        ("a", "atlas", True),
        ("h", "atlas", False),
        ("x", None, True),
    ]
    adapter.register_node("w1", "atlas")
    adapter.register_node("w1", "atlas")  # idempotent
    clock.now = 60
    second = adapter.snapshot()
    assert [j.id for j in second.jobs].count("a") == 1  # 4-core flavor takes two 2-core jobs
    assert "late" in [j.id for j in second.jobs]
    assert second.nodes[0].state is LrmNodeState.BUSY and second.nodes[0].running_jobs == 2
    clock.now = 200
    adapter.drain_node("w1", "test")
    third = adapter.snapshot()
    assert third.nodes[0].state is LrmNodeState.DRAINED
    assert "a" in [j.id for j in third.jobs]  # a drained node takes no new job
    adapter.remove_node("w1")
    adapter.remove_node("w1")  # idempotent
    assert adapter.snapshot().nodes == ()


def test_state_persists_across_adapter_instances(replay, tmp_path):
    adapter, clock = replay
    adapter.register_node("w1", "atlas")
    again = adapter_for(tmp_path / "w.yaml", tmp_path / "s.json", clock=clock)
    assert [n.name for n in again.snapshot().nodes] == ["w1"]


def test_removing_a_busy_node_is_refused(replay):
    adapter, _ = replay
    adapter.register_node("w1", "atlas")
    adapter.snapshot()
    with pytest.raises(LRMError, match="jobs still run there"):
        adapter.remove_node("w1")


def test_garbled_workload_and_state_are_clear_errors(tmp_path):
    (tmp_path / "w.yaml").write_text("jobs: {not: a list}\n")
    adapter = adapter_for(tmp_path / "w.yaml", tmp_path / "s.json")
    with pytest.raises(LRMParseError, match="'jobs' list"):
        adapter.snapshot()
    (tmp_path / "w.yaml").write_text(WORKLOAD)
    (tmp_path / "s.json").write_text("{garbled")
    with pytest.raises(LRMError, match="unreadable"):
        adapter_for(tmp_path / "w.yaml", tmp_path / "s.json").snapshot()


def test_swf_workload(tmp_path):
    swf = tmp_path / "t.swf"
    swf.write_text("; trace\n1 0 0 30 4 -1 -1 4 60 -1 1 7 1 -1 1 -1 -1 -1\n")
    site = make_site(
        vos=[
            {"name": "atlas", "match": {"user": ["7"]}, "flavor": {"cores": 4, "memory_mb": 8000}}
        ],
        ec2={"instance_types": {}},
    )
    adapter = adapter_for(swf, tmp_path / "s.json", site.vos)
    job = label_snapshot(adapter.snapshot(), site.vos).jobs[0]
    assert (job.id, job.vo, job.cores) == ("1", "atlas", 4)
