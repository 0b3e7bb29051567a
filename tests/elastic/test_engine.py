"""The pass end to end with the replay LRM and in-memory providers, under a fake clock."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from elastic.engine import PassLocked, run_locked, site_lock
from elastic.ledger import Ledger
from elastic.model import NodeState, ProviderKind, QueueSnapshot
from lrm_adapters.base import LRMError
from lrm_adapters.replay import ReplayAdapter
from tests.factories import make_site
from tests.fakes import fake_providers
from tests.worlds import Clock, replay_engine, replay_lrm

ATLAS_JOBS = {"id": "a", "project": "atlas", "cores": 4, "count": 6, "runtime_s": 100}


def build_world(tmp_path: Path, jobs: list[dict]):
    """An engine over a replay LRM playing ``jobs`` and in-memory providers, fake clock."""
    site = make_site(site={"name": "t", "state": str(tmp_path / "ledger.db")})
    clock = Clock()
    providers = fake_providers(site)
    engine = replay_engine(site, tmp_path, jobs, providers, clock)
    return engine, clock, providers, engine.ledger


@pytest.fixture
def world(tmp_path: Path):
    return build_world(tmp_path, [ATLAS_JOBS])


def states(ledger: Ledger) -> dict[str, str]:
    return {n.id: n.state.value for n in ledger.nodes(include_gone=True)}


def test_scale_up_local_first_run_then_retire_cloud_before_local(world):
    engine, clock, providers, ledger = world
    first = engine.run_pass()
    assert not first.degraded
    local, cloud = providers[ProviderKind.LIBVIRT], providers[ProviderKind.EC2]
    assert len(local.vms) == 4 and len(cloud.vms) == 2
    assert set(states(ledger).values()) == {"joining"}

    clock.now += 10
    engine.run_pass()  # nodes joined, jobs started on them
    assert set(states(ledger).values()) == {"ready"}
    assert all(n.state == "busy" for n in engine.lrm.snapshot().nodes)

    clock.now += 200
    engine.run_pass()  # jobs done: idle from now on
    clock.now += 301
    cloud_ids = set(cloud.vms)
    drained = engine.run_pass()
    assert {a.node_id for a in drained.plan.drains} == cloud_ids  # cloud first
    # drained, read again empty, destroyed in the same pass
    assert {a.node_id for a in drained.followup} == cloud_ids
    assert not cloud.vms and len(local.vms) == 4
    clock.now += 300
    engine.run_pass()
    assert not local.vms
    assert set(states(ledger).values()) == {"gone"}
    assert not ledger.open_intents()
    assert local.boots == 4 and cloud.boots == 2


def test_a_failed_boot_becomes_a_failed_node_and_others_proceed(world):
    engine, clock, providers, ledger = world
    providers[ProviderKind.EC2].fail_boot = True
    result = engine.run_pass()
    assert result.degraded
    assert sorted(states(ledger).values()) == ["failed"] * 2 + ["joining"] * 4
    failed = [i for i in ledger.events(100) if i.kind == "failed"]
    assert len(failed) == 2 and "boot refused" in failed[0].message
    clock.now += 10
    providers[ProviderKind.EC2].fail_boot = False
    engine.run_pass()  # failed nodes are cleaned up; their target backs off first
    assert len(providers[ProviderKind.EC2].vms) == 0
    assert [b.failures for b in ledger.backoffs()] == [1]  # one failing pass, one failure
    clock.now += engine.site.policy.boot_backoff_s
    engine.run_pass()  # the backoff is over: replacements booted
    assert len(providers[ProviderKind.EC2].vms) == 2


class JobSlipsIn(ReplayAdapter):
    """A job reaches the node between the pass's observation and its drain."""

    def drain_node(self, hostname: str, reason: str) -> None:
        super().drain_node(hostname, reason)

        def busy(state):  # the workload's first job, once more, running there for good
            state["running"][f"late-{hostname}.0"] = {"node": hostname, "end": 1e12}

        self._change(busy)


def test_a_drained_node_that_got_a_job_is_not_destroyed_in_the_same_pass(world, tmp_path):
    engine, clock, providers, ledger = world
    engine.run_pass()
    clock.now += 10
    engine.run_pass()
    engine.lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, JobSlipsIn)
    clock.now += 200  # the jobs are done: idle local workers can take the cloud's place
    result = engine.run_pass()
    assert len(result.plan.drains) == 2
    assert not result.errors  # the LRM was read again, and shows the jobs
    assert result.followup == ()
    assert len(providers[ProviderKind.EC2].vms) == 2
    assert {states(ledger)[d.node_id] for d in result.plan.drains} == {"draining"}


class BrokenLRM(ReplayAdapter):
    def snapshot(self) -> QueueSnapshot:
        raise LRMError("qstat failed", ["qstat", "-xml"], 1, "cannot reach qmaster")


def test_unreadable_lrm_retires_nothing(world, tmp_path):
    engine, clock, providers, _ = world
    engine.run_pass()
    clock.now += 5000
    engine.lrm = replay_lrm(engine.site, tmp_path / "jobs.yaml", clock, BrokenLRM)
    result = engine.run_pass()
    assert not result.plan.actions
    assert result.errors and "cannot reach qmaster" in result.errors[0]
    assert len(providers[ProviderKind.LIBVIRT].vms) == 4


def test_unreadable_cloud_blocks_cloud_boots_only(world):
    engine, _, providers, _ = world
    providers[ProviderKind.EC2].fail_inventory = True
    result = engine.run_pass()
    assert {b.provider for b in result.plan.boots} == {ProviderKind.LIBVIRT}
    assert result.degraded


def test_vanished_vm_and_orphan_are_reconciled(world):
    engine, clock, providers, ledger = world
    engine.run_pass()
    local = providers[ProviderKind.LIBVIRT]
    gone = sorted(local.vms)[0]
    del local.vms[gone]
    from elastic.model import VMRef

    local.vms["t-atlas-09999"] = VMRef("t-atlas-09999", ProviderKind.LIBVIRT, "hv1", "x", "atlas")
    local.sizes["t-atlas-09999"] = (4, 8000)
    clock.now += 10
    engine.run_pass()
    assert ledger.get(gone).state in {NodeState.FAILED, NodeState.GONE}
    assert ledger.get("t-atlas-09999").state is NodeState.ORPHAN  # adopted, kept for its grace
    assert "t-atlas-09999" in local.vms
    clock.now += engine.site.policy.orphan_grace_s
    engine.run_pass()
    assert "t-atlas-09999" not in local.vms  # past its grace, empty in the LRM: destroyed
    assert ledger.get("t-atlas-09999").state is NodeState.GONE


def test_dry_run_changes_nothing(world):
    engine, _, providers, ledger = world
    result = engine.run_pass(dry_run=True)
    assert len(result.plan.boots) == 6
    assert not ledger.nodes() and not providers[ProviderKind.LIBVIRT].vms


def test_overlapping_pass_is_refused(world):
    engine, *_ = world
    with site_lock(engine.site), pytest.raises(PassLocked, match="another pass is running"):
        run_locked(engine.site, engine)
    assert run_locked(engine.site, engine).plan.boots


def probing_world(tmp_path: Path, answers: list[bool], boot_timeout_s: int = 900):
    """An engine whose VO has ``probe: true``, with a fake probe job that records its
    calls and answers ``answers`` in turn."""
    site = make_site(
        site={"name": "t", "state": str(tmp_path / "l.db")},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "probe": True,
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "a"},
            }
        ],
        ec2={"instance_types": {}},
        policy={"boot_timeout_s": boot_timeout_s},
    )
    clock = Clock()
    probes: list[str] = []
    replies = iter(answers)

    def probe(host: str) -> bool:
        probes.append(host)
        return next(replies)

    job = {"id": "a", "project": "atlas", "cores": 4, "runtime_s": 100}
    engine = replay_engine(site, tmp_path, [job], fake_providers(site), clock, probe=probe)
    return engine, clock, probes


def test_a_probing_vo_node_is_ready_only_after_its_probe_job_ran(tmp_path):
    engine, clock, probes = probing_world(tmp_path, [False, True])
    engine.run_pass()
    clock.now += 10
    result = engine.run_pass()  # joined: the probe is an action of this pass, and fails
    (node,) = engine.ledger.nodes()
    assert [(r.action.kind, r.ok) for r in result.results] == [("probe", False)]
    assert node.state is NodeState.JOINING and probes == [node.id]
    events = engine.ledger.events(node_id=node.id)
    assert any(e.kind == "probe-failed" and "did not run" in e.message for e in events)
    assert engine.ledger.open_intents() == []  # its intent was opened and closed failed
    clock.now += 10
    engine.run_pass()  # tried again the next pass
    assert engine.ledger.get(node.id).state is NodeState.READY and len(probes) == 2


def test_plan_and_status_list_the_probe_but_never_submit_it(tmp_path):
    engine, clock, probes = probing_world(tmp_path, [True])
    engine.run_pass()
    clock.now += 10
    (node,) = engine.ledger.nodes()
    planned = engine.run_pass(dry_run=True)  # elastic plan
    assert [(a.kind, a.node_id) for a in planned.plan.actions] == [("probe", node.id)]
    engine.prepare(clock())  # elastic status
    assert probes == [] and engine.ledger.get(node.id).state is NodeState.JOINING
    assert engine.ledger.open_intents() == []
    engine.run_pass()  # run-once
    assert probes == [node.id] and engine.ledger.get(node.id).state is NodeState.READY


def test_a_node_whose_probe_keeps_failing_is_destroyed_at_its_boot_deadline(tmp_path):
    engine, clock, probes = probing_world(tmp_path, [False] * 5, boot_timeout_s=60)
    engine.run_pass()
    for _ in range(3):
        clock.now += 20
        engine.run_pass()
    assert len(probes) == 3
    clock.now += 200  # past boot_timeout_s, its job done: destroyed, not probed again
    result = engine.run_pass()
    assert [a.kind for a in result.plan.actions if a.node_id == probes[0]] == ["destroy"]
    assert len(probes) == 3
    assert engine.ledger.get(probes[0]).state is NodeState.GONE


def test_sources_are_asked_at_once_so_hangs_cost_one_timeout_not_one_each(world):
    engine, _, providers, _ = world
    release = threading.Event()
    engine.site = engine.site.model_copy(
        update={"lrm": engine.site.lrm.model_copy(update={"timeout_s": 0.5})}
    )
    engine.lrm.snapshot = lambda: release.wait(30)  # type: ignore[method-assign]
    for provider in providers.values():
        provider.inventory = lambda: release.wait(30)  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        observed = engine.observe()
    finally:
        release.set()
    elapsed = time.monotonic() - started
    assert 5.5 <= elapsed < 8  # one timeout (0.5 s + 5 s grace) for all three, not three
    assert observed.snapshot is None and set(observed.inventories.values()) == {None}
    assert len(observed.errors) == 3
    assert all("no answer within 5.5 s" in e for e in observed.errors)


def test_nodes_booted_in_a_pass_that_also_drains_are_not_taken_for_vanished(tmp_path):
    cms_jobs = {"id": "c", "project": "cms", "cores": 4, "count": 6, "submit_s": 400}
    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS, cms_jobs])
    engine.run_pass()
    clock.now += 10
    engine.run_pass()
    clock.now += 200
    engine.run_pass()  # atlas done: idle from now
    clock.now += 301
    mixed = engine.run_pass()  # atlas cloud workers drained, cms workers booted
    assert mixed.plan.drains and any(b.vo == "cms" for b in mixed.plan.boots)
    assert mixed.followup  # the drained ones went in the same pass
    cms = {b.node_id for b in mixed.plan.boots if b.vo == "cms"}
    # the replay LRM lists a registered node at once: the follow-up may see it joined
    assert {states(ledger)[n] for n in cms} <= {"joining", "ready"}, states(ledger)
    assert cms <= set(providers[ProviderKind.EC2].vms)
    assert not mixed.degraded


def test_an_unplaceable_job_is_warned_about_once_per_process(tmp_path, caplog):
    wide = {"id": "w", "project": "atlas", "cores": 64}
    engine, clock, _, _ = build_world(tmp_path, [ATLAS_JOBS, wide])
    caplog.set_level(logging.DEBUG, logger="elastic.engine")
    for _ in range(3):
        engine.run_pass()
        clock.now += 10
    said = [r for r in caplog.records if "unplaceable job w" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    assert len(engine.run_pass().plan.unplaceable) == 1  # still in every plan
