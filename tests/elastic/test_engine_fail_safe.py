"""The engine under faults, with the replay LRM and in-memory providers: recovery of a
killed pass's intents, implausible readings, unreadable hosts and calls that hang."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from elastic.deadline import TimedOut, run_all
from elastic.model import Host, NodeState, ProviderKind, QueueSnapshot
from tests.elastic.test_engine import ATLAS_JOBS, build_world, states
from tests.factories import boot_request, record


def test_a_boot_cut_short_after_the_provider_call_continues_next_pass(tmp_path: Path):
    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS])
    cloud = providers[ProviderKind.EC2]
    # what a kill at boot:provider leaves: REQUESTED row, open intent, VM already made
    ledger.add(
        record(
            "t-atlas-00077",
            NodeState.REQUESTED,
            location="eu-west-1",
            at=clock.now,
            boot_deadline=clock.now + 900,
        ),
        "requested",
    )
    intent = ledger.open_intent("t-atlas-00077", "boot", clock.now)
    cloud.boot(boot_request("t-atlas-00077", ProviderKind.EC2, "eu-west-1", "ami-atlas"))
    clock.now += 60
    result = engine.run_pass()
    assert [r.step.step for r in result.recovered] == ["resume-boot"]
    assert ledger.get("t-atlas-00077").state is NodeState.JOINING  # not left to boot_timeout_s
    assert intent not in [i.id for i in ledger.open_intents()]
    assert cloud.boots == 1 + sum(1 for b in result.plan.boots if b.provider is ProviderKind.EC2)


def test_a_drain_cut_short_is_done_again_and_a_destroy_finished(tmp_path: Path):
    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS])
    engine.run_pass()
    clock.now += 60
    engine.run_pass()  # joined, running the jobs
    clock.now += 200
    engine.run_pass()  # the jobs are done: idle, below the idle timeout
    first, second = sorted(providers[ProviderKind.LIBVIRT].vms)[:2]
    assert {ledger.get(first).state, ledger.get(second).state} == {NodeState.READY}
    drain = ledger.open_intent(first, "drain", clock.now)  # killed before DRAINING was written
    ledger.set_state(second, NodeState.RETIRING, clock.now, "killed mid-destroy")
    ledger.open_intent(second, "destroy", clock.now)
    clock.now += 10
    result = engine.run_pass()
    steps = {r.step.node_id: r.step.step for r in result.recovered}
    assert steps == {first: "redo-drain", second: "finish-destroy"}
    assert ledger.get(first).state in {NodeState.DRAINING, NodeState.RETIRING, NodeState.GONE}
    assert second not in providers[ProviderKind.LIBVIRT].vms
    assert ledger.get(second).state is NodeState.GONE
    assert drain not in [i.id for i in ledger.open_intents()]


def test_an_empty_but_valid_reading_holds_every_scale_down(tmp_path: Path):
    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS])
    engine.run_pass()
    real_snapshot = engine.lrm.snapshot
    clock.now += 60
    engine.run_pass()  # the workers join and run the jobs
    assert {n.state for n in ledger.nodes()} == {NodeState.READY}
    engine.lrm.snapshot = lambda: QueueSnapshot()  # type: ignore[method-assign]
    clock.now += 4000  # long past every idle timeout
    result = engine.run_pass()
    assert result.degraded and any("vanished" in e for e in result.errors)
    assert not result.plan.drains and not result.plan.destroys
    assert len(providers[ProviderKind.LIBVIRT].vms) + len(providers[ProviderKind.EC2].vms) == 6
    engine.lrm.snapshot = real_snapshot  # type: ignore[method-assign]
    clock.now += 10
    assert not engine.run_pass().errors  # the nodes are back: trusted again


def test_an_unreadable_host_is_degraded_and_named(tmp_path: Path):
    engine, _, providers, _ = build_world(tmp_path, [ATLAS_JOBS])
    local = providers[ProviderKind.LIBVIRT]
    original = local.inventory

    def unreachable():
        inventory = original()
        down = Host("hv1", 16, 64000, 0, 0, False, "ssh: key expired")
        return type(inventory)(inventory.provider, (down,), inventory.vms)

    local.inventory = unreachable  # type: ignore[method-assign]
    result = engine.run_pass()
    assert result.degraded
    assert any("hv1" in e and "key expired" in e for e in result.errors)
    assert not result.plan.boots  # not full: its demand does not burst to EC2 by default


def test_a_hung_call_is_abandoned_at_its_deadline():
    release = threading.Event()
    started = time.monotonic()
    out = run_all({"hang": release.wait, "quick": lambda: 42}, 0.5)
    assert out["quick"].value == 42
    assert isinstance(out["hang"].error, TimedOut) and out["hang"].error.started
    assert time.monotonic() - started < 5
    release.set()


def test_a_process_with_a_hung_call_still_exits(tmp_path: Path):
    """concurrent.futures joins its threads at exit; ours are daemon threads."""
    script = tmp_path / "hang.py"
    script.write_text(
        textwrap.dedent("""
        import threading
        from elastic.deadline import run_all
        run_all({"hang": threading.Event().wait}, 0.2)
        print("done")
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0 and "done" in done.stdout


def test_a_hung_boot_is_abandoned_and_left_to_the_next_pass(tmp_path: Path):
    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS])
    engine.site = engine.site.model_copy(
        update={"policy": engine.site.policy.model_copy(update={"act_deadline_s": 0.5})}
    )
    release = threading.Event()
    cloud = providers[ProviderKind.EC2]
    boot = cloud.boot
    cloud.boot = lambda request: (release.wait(), boot(request))[1]  # type: ignore[method-assign]
    result = engine.run_pass()
    abandoned = [r for r in result.results if r.abandoned]
    assert result.degraded and len(abandoned) == 2
    assert {ledger.get(r.action.node_id).state for r in abandoned} == {NodeState.REQUESTED}
    clock.now += 10
    second = engine.run_pass()  # the calls may still finish: their nodes are left alone
    assert not {r.step.node_id for r in second.recovered} & {r.action.node_id for r in abandoned}
    release.set()  # the abandoned calls finish on their own, in their threads
    deadline = time.monotonic() + 10
    while list(states(ledger).values()).count("joining") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(states(ledger).values()).count("joining") == 2


def test_status_shows_unreachable_hosts_and_backoffs(tmp_path: Path):
    from elastic.model import BootBackoff
    from elastic.status_report import status_json, status_text

    engine, clock, providers, ledger = build_world(tmp_path, [ATLAS_JOBS])
    ledger.put_backoff(
        BootBackoff("atlas", ProviderKind.LIBVIRT, "hv1", 3, clock.now + 300, "no base image"),
        clock.now,
    )
    providers[ProviderKind.LIBVIRT].inventory = _unreachable  # type: ignore[method-assign]
    observation, observed, _ = engine.prepare(clock.now)
    text = status_text(observation, observed.errors)
    assert "UNREACHABLE: connection refused" in text
    assert "no base image" in text and "hv1" in text
    data = status_json(observation, observed.errors)
    assert data["backoffs"][0]["failures"] == 3


def _unreachable():
    from elastic.model import Inventory

    return Inventory(
        ProviderKind.LIBVIRT, (Host("hv1", 16, 64000, 0, 0, False, "connection refused"),), ()
    )


def test_the_last_good_reading_drives_boots_only_within_lrm_grace(tmp_path: Path):
    from lrm_adapters.base import LRMError

    engine, clock, _, _ = build_world(tmp_path, [ATLAS_JOBS])
    engine.site = engine.site.model_copy(
        update={"policy": engine.site.policy.model_copy(update={"lrm_grace_s": 120})}
    )
    engine.run_pass(dry_run=True)  # a good reading, kept in the process
    real = engine.lrm.snapshot

    def broken():
        raise LRMError("qstat: cannot reach qmaster")

    engine.lrm.snapshot = broken  # type: ignore[method-assign]
    clock.now += 60
    within = engine.run_pass()
    assert within.degraded and within.plan.boots  # scale-up on the 60 s old view
    assert not within.plan.drains and not within.plan.destroys
    clock.now += 120
    beyond = engine.run_pass()
    assert not beyond.plan.actions  # too old: nothing at all
    engine.lrm.snapshot = real  # type: ignore[method-assign]


def test_each_real_pass_publishes_the_heartbeat_and_a_dry_run_does_not(tmp_path: Path):
    engine, clock, providers, _ = build_world(tmp_path, [ATLAS_JOBS])
    beats: list[float] = []
    providers[ProviderKind.EC2].publish_heartbeat = beats.append  # type: ignore[attr-defined]
    engine.run_pass(dry_run=True)
    assert beats == []
    engine.run_pass()
    clock.now += 60
    engine.run_pass()
    assert beats == [clock.now - 60, clock.now]

    def refused(now: float) -> None:
        raise RuntimeError("UnauthorizedOperation: ec2:CreateTags")

    providers[ProviderKind.EC2].publish_heartbeat = refused  # type: ignore[attr-defined]
    result = engine.run_pass()
    assert result.degraded and any("heartbeat" in e for e in result.errors)
