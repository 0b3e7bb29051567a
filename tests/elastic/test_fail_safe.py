"""Issue 10's protections, one test each: reconcile, retirement, recovery, backoff,
plausibility and the planner's holds. Each fails when its protection is removed."""

from __future__ import annotations

from dataclasses import replace

from elastic.config import Policy
from elastic.model import (
    BootBackoff,
    Cause,
    Intent,
    Inventory,
    Job,
    LrmNode,
    LrmNodeState,
    NodeRecord,
    NodeState,
    Observation,
    ProviderKind,
    QueueSnapshot,
    VMRef,
)
from elastic.planning import plan
from elastic.planning.backoff import BackoffView, BootOutcome, fold
from elastic.planning.scale_down import destroy_reason
from elastic.plausibility import check_reading
from elastic.reconcile import reconcile
from elastic.recovery import plan_recovery
from tests.factories import host, jobs, make_site, node, record

EC2, LOCAL = ProviderKind.EC2, ProviderKind.LIBVIRT
NOW = 10_000.0


ONE_HOST = (host(),)


def observe(job_list=(), nodes=(), hosts=ONE_HOST, **kw) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=tuple(hosts), **kw)


def rec(node_id: str, state: NodeState, **kw) -> NodeRecord:
    return record(node_id, state, **kw)


def vm(node_id: str, **kw) -> VMRef:
    return VMRef(node_id, EC2, "r", f"i-{node_id}", "atlas", **kw)


def listed(*nodes: LrmNode, jobs: tuple[Job, ...] = ()) -> QueueSnapshot:
    return QueueSnapshot(jobs=jobs, nodes=nodes)


def one(record, snapshot, vms=None, now=NOW, **kw):
    vms = (vm(record.id),) if vms is None else vms
    return reconcile([record], snapshot, {EC2: Inventory(EC2, vms=vms)}, now, **kw)


# --- reconcile -------------------------------------------------------------------


def test_a_drain_made_outside_the_pass_is_respected():
    r = one(rec("a", NodeState.READY), listed(LrmNode("a", LrmNodeState.DRAINED)))
    assert r.corrections[0].fields["state"] is NodeState.DRAINING
    assert r.workers[0].state is NodeState.DRAINING  # so the planner retires it once empty


def test_a_dark_node_is_failed_after_dark_timeout_only():
    policy = Policy(dark_timeout_s=600)
    absent = listed()
    first = one(rec("a", NodeState.READY), absent, policy=policy)
    assert first.corrections[0].fields["dark_since"] == NOW
    assert first.workers[0].state is NodeState.READY
    early = one(rec("a", NodeState.READY, dark_since=NOW - 599), absent, policy=policy)
    assert early.workers[0].state is NodeState.READY
    late = one(rec("a", NodeState.READY, dark_since=NOW - 600), absent, policy=policy)
    assert late.workers[0].state is NodeState.FAILED
    assert "dark" in late.corrections[0].fields["reason"]
    back = one(
        rec("a", NodeState.READY, dark_since=NOW - 599), listed(LrmNode("a", LrmNodeState.IDLE))
    )
    assert back.corrections[0].fields["dark_since"] is None


def test_a_stopped_or_ended_vm_fails_its_node_at_once():
    stopped = one(
        rec("a", NodeState.READY),
        listed(LrmNode("a", LrmNodeState.DOWN)),
        vms=(vm("a", running=False),),
    )
    assert stopped.workers[0].state is NodeState.FAILED
    reclaimed = vm(
        "a", running=False, terminated=True, state_reason="Server.SpotInstanceTermination"
    )
    ended = one(
        rec("a", NodeState.READY), listed(LrmNode("a", LrmNodeState.IDLE)), vms=(reclaimed,)
    )
    assert ended.workers[0].state is NodeState.FAILED
    assert "SpotInstanceTermination" in ended.corrections[0].fields["reason"]


def test_an_ended_vm_is_no_orphan_and_loses_to_a_live_one():
    dead = vm("x", running=False, terminated=True)
    r = reconcile([], listed(), {EC2: Inventory(EC2, vms=(dead,))}, NOW)
    assert r.orphans == ()
    both = one(
        rec("a", NodeState.READY),
        listed(LrmNode("a", LrmNodeState.IDLE)),
        vms=(vm("a"), vm("a", running=False, terminated=True)),
    )
    assert both.workers[0].state is NodeState.READY


def test_an_absent_node_keeps_its_last_running_count():
    r = one(rec("a", NodeState.DRAINING, last_running=2), listed())
    assert "last_running" not in (r.corrections[0].fields if r.corrections else {})
    assert r.workers[0].last_running == 2
    untrusted = one(
        rec("a", NodeState.READY, last_running=2),
        listed(LrmNode("a", LrmNodeState.IDLE)),
        trusted=False,
    )
    assert untrusted.workers[0].last_running == 2


# --- retirement ------------------------------------------------------------------


def test_absent_is_not_empty_when_the_node_ran_jobs_at_the_last_reading():
    site = make_site(policy={"dark_timeout_s": 600})
    draining = replace(node("a", state=NodeState.DRAINING, lrm=LrmNodeState.ABSENT), last_running=1)
    assert destroy_reason(draining, site, NOW) is None
    dark = replace(draining, dark_since=NOW - 600)
    assert destroy_reason(dark, site, NOW) is not None  # dark long enough: lost, retired
    empty = replace(draining, last_running=0)
    assert destroy_reason(empty, site, NOW) is not None


def test_an_orphan_waits_its_grace_and_is_kept_while_busy():
    site = make_site(policy={"orphan_grace_s": 600})
    young = replace(
        node("o", state=NodeState.ORPHAN, lrm=LrmNodeState.ABSENT), state_since=NOW - 10
    )
    assert destroy_reason(young, site, NOW) is None
    old = replace(young, state_since=NOW - 600)
    assert destroy_reason(old, site, NOW) is not None
    busy = replace(old, lrm_state=LrmNodeState.BUSY, running_jobs=1)
    assert destroy_reason(busy, site, NOW) is None


# --- recovery --------------------------------------------------------------------


def intent(n: int, node_id: str, kind: str) -> Intent:
    return Intent(n, node_id, kind, 1.0, None, None, "")


def test_recovery_continues_boots_with_a_vm_and_fails_those_without():
    records = [
        rec("a", NodeState.REQUESTED),
        rec("b", NodeState.BOOTING),
        rec("c", NodeState.REQUESTED),
    ]
    steps = plan_recovery(
        [intent(1, "a", "boot"), intent(2, "b", "boot")], records, {"a": vm("a")}, {EC2}
    )
    by = {s.node_id: s for s in steps}
    assert by["a"].step == "resume-boot" and by["a"].intents == (1,)
    assert by["b"].step == "fail-boot"
    assert by["c"].step == "fail-boot"  # no intent, no VM: the boot never started
    unread = plan_recovery([intent(1, "a", "boot")], records[:1], {}, set())
    assert unread == []  # a provider not read proves nothing: wait


def test_recovery_redoes_drains_finishes_destroys_and_rolls_back_the_rest():
    records = [
        rec("d", NodeState.READY),
        rec("r", NodeState.RETIRING),
        rec("x", NodeState.DRAINING),
        rec("j", NodeState.JOINING),
    ]
    open_ = [
        intent(1, "d", "drain"),
        intent(2, "r", "destroy"),
        intent(3, "x", "destroy"),
        intent(4, "j", "boot"),
        intent(5, "gone", "destroy"),
    ]
    by = {s.node_id: s for s in plan_recovery(open_, records, {}, {EC2})}
    assert by["d"].step == "redo-drain"
    assert by["r"].step == "finish-destroy"
    assert by["x"].step == "close" and "rolled back" in by["x"].reason
    assert by["j"].step == "close"
    assert by["gone"].step == "close"
    assert plan_recovery(open_, records, {}, {EC2}, in_flight={"d", "r"}) == [
        s for s in plan_recovery(open_, records, {}, {EC2}) if s.node_id not in {"d", "r"}
    ]


# --- backoff ---------------------------------------------------------------------


def test_failures_back_off_exponentially_per_pass_and_a_join_clears_them():
    policy = Policy(boot_backoff_s=60, boot_backoff_max_s=200)
    fail = BootOutcome("atlas", LOCAL, "hv1", False, "base image missing")
    changed, _ = fold({}, [fail, fail], NOW, policy)
    assert [(b.failures, b.until) for b in changed] == [(1, NOW + 60)]
    key = ("atlas", LOCAL, "hv1")
    changed, _ = fold({key: changed[0]}, [fail], NOW, policy)
    assert (changed[0].failures, changed[0].until) == (2, NOW + 120)
    changed, _ = fold({key: replace(changed[0], failures=5)}, [fail], NOW, policy)
    assert changed[0].until == NOW + 200  # capped
    _, cleared = fold({key: changed[0]}, [replace(fail, ok=True)], NOW, policy)
    assert cleared == [key]


def backed_off(failures: int, provider=LOCAL, location="hv1") -> BootBackoff:
    return BootBackoff("atlas", provider, location, failures, NOW + 60, "boom")


def test_a_vo_waits_out_a_young_backoff_then_fails_over_to_the_next_target():
    site = make_site(policy={"boot_failures_before_failover": 2, "cloud_burst_after_s": 0})
    two_hosts = [host("hv1", cores=8), host("hv2", cores=8)]
    waiting = plan(observe(jobs("atlas", 2), hosts=two_hosts, backoffs=(backed_off(1),)), site, NOW)
    assert not waiting.boots
    assert [s.reason.cause for s in waiting.decisions[0].short] == [Cause.BACKOFF]
    over = plan(observe(jobs("atlas", 2), hosts=two_hosts, backoffs=(backed_off(2),)), site, NOW)
    assert {b.location for b in over.boots} == {"hv2"}
    one_host = [host("hv1", cores=16)]
    burst = plan(observe(jobs("atlas", 2), hosts=one_host, backoffs=(backed_off(2),)), site, NOW)
    assert {b.provider for b in burst.boots} == {EC2}
    expired = replace(backed_off(2), until=NOW - 1)
    back = plan(observe(jobs("atlas", 2), hosts=one_host, backoffs=(expired,)), site, NOW)
    assert {b.location for b in back.boots} == {"hv1"}


def test_a_backed_off_instance_type_gives_way_to_the_next():
    site = make_site(
        ec2={
            "instance_types": {"atlas": ["c5.xlarge", "m5.xlarge"], "cms": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2, "m5.xlarge": 0.2},
        },
    )
    blocked = backed_off(2, EC2, "c5.xlarge")
    p = plan(observe(jobs("atlas", 2), hosts=[], backoffs=(blocked,)), site, NOW)
    assert {b.instance_type for b in p.boots} == {"m5.xlarge"}
    assert BackoffView((blocked,), 2).blocked("atlas", EC2, "c5.xlarge")


# --- plausibility and the planner's hold ----------------------------------------


def test_a_reading_that_loses_the_registered_nodes_or_its_jobs_is_implausible():
    policy = Policy(lrm_vanish_fraction=0.5, lrm_vanish_min_nodes=2, lrm_vanish_min_jobs=4)
    records = [rec(f"n{i}", NodeState.READY) for i in range(4)]
    empty = check_reading(listed(), records, 0, policy)
    assert empty.implausible and len(empty.vanished) == 4
    one_gone = check_reading(
        listed(*(LrmNode(f"n{i}", LrmNodeState.IDLE) for i in range(3))), records, 0, policy
    )
    assert not one_gone.implausible  # one node of four: a dark node, not a bad reading
    all_there = listed(*(LrmNode(f"n{i}", LrmNodeState.IDLE) for i in range(4)))
    assert check_reading(all_there, records, 6, policy).jobs_dropped  # an empty queue
    assert not check_reading(all_there, records, 3, policy).implausible
    waiting = replace(all_there, jobs=(Job("p", vo="atlas"),))  # jobs ended, others wait
    assert not check_reading(waiting, records, 6, policy).implausible


def test_an_unread_lrm_still_gets_one_decision_line_per_vo():
    p = plan(replace(observe(), lrm_ok=False), make_site(), NOW)
    assert not p.actions and [d.vo for d in p.decisions] == ["atlas", "cms"]
    assert all("LRM unread" in d.summary() for d in p.decisions)


def test_no_drain_or_destroy_on_a_reading_that_is_not_trusted():
    site = make_site()
    nodes = [
        replace(node("idle", idle_since=0.0)),
        node("drained", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINED),
    ]
    trusted = plan(observe(nodes=nodes), site, NOW)
    assert trusted.drains and trusted.destroys
    held = plan(replace(observe(nodes=nodes), scale_down_ok=False), site, NOW)
    assert not held.drains and not held.destroys
