"""Reconcile: ledger vs. provider inventory vs. LRM view."""

from __future__ import annotations

from elastic.model import (
    Inventory,
    LrmNode,
    LrmNodeState,
    NodeRecord,
    NodeState,
    ProviderKind,
    QueueSnapshot,
    VMRef,
)
from elastic.reconcile import reconcile
from tests.factories import record

EC2 = ProviderKind.EC2


def rec(node_id: str, state: NodeState, **kw) -> NodeRecord:
    return record(node_id, state, **kw)


def vm(node_id: str) -> VMRef:
    return VMRef(node_id, EC2, "r", f"i-{node_id}", "atlas")


def snap(*nodes: LrmNode) -> QueueSnapshot:
    return QueueSnapshot(nodes=nodes)


def test_joined_node_becomes_ready_and_idle_clock_starts():
    r = reconcile(
        [rec("a", NodeState.JOINING)],
        snap(LrmNode("a", LrmNodeState.IDLE)),
        {EC2: Inventory(EC2, vms=(vm("a"),))},
        50.0,
    )
    assert r.corrections[0].fields == {
        "state": NodeState.READY,
        "reason": "joined the LRM",
        "idle_since": 50.0,
    }
    assert r.workers[0].state is NodeState.READY and r.workers[0].idle_since == 50.0


def test_busy_node_resets_idle_clock_but_unknown_state_does_not():
    busy = reconcile(
        [rec("a", NodeState.READY, idle_since=5.0)],
        snap(LrmNode("a", LrmNodeState.BUSY, running_jobs=2)),
        {EC2: Inventory(EC2, vms=(vm("a"),))},
        9.0,
    )
    assert busy.corrections[0].fields == {"idle_since": None, "last_running": 2}
    assert busy.workers[0].running_jobs == 2
    unread = reconcile(
        [rec("a", NodeState.READY, idle_since=5.0)],
        None,
        {EC2: Inventory(EC2, vms=(vm("a"),))},
        9.0,
    )
    assert unread.corrections == ()
    assert unread.workers[0].lrm_state is LrmNodeState.UNKNOWN


def test_vanished_vm_is_failed_and_absent_lrm_node_is_absent():
    r = reconcile(
        [rec("a", NodeState.READY), rec("b", NodeState.RETIRING)],
        snap(),
        {EC2: Inventory(EC2)},
        9.0,
    )
    fields = {c.node_id: c.fields["state"] for c in r.corrections}
    assert fields == {"a": NodeState.FAILED, "b": NodeState.GONE}
    assert [w.id for w in r.workers] == ["a"]
    assert r.workers[0].lrm_state is LrmNodeState.ABSENT


def test_unread_inventory_changes_nothing_about_vms():
    r = reconcile(
        [rec("a", NodeState.READY)], snap(LrmNode("a", LrmNodeState.BUSY)), {EC2: None}, 9.0
    )
    assert all("state" not in c.fields for c in r.corrections)


def test_orphan_vm_is_adopted_as_orphan_and_costs_its_price():
    from dataclasses import replace

    priced = replace(vm("x"), instance_type="c5.large")
    r = reconcile(
        [],
        snap(LrmNode("x", LrmNodeState.BUSY, running_jobs=1)),
        {EC2: Inventory(EC2, vms=(priced,))},
        9.0,
        {"c5.large": 0.1},
    )
    assert r.orphans[0].id == "x" and r.orphans[0].state is NodeState.ORPHAN
    assert r.workers[0].hourly_cost == 0.1
    assert r.workers[0].running_jobs == 1  # so the planner will not destroy it while busy


def test_requested_without_vm_is_gone_only_after_the_boot_deadline():
    early = reconcile(
        [rec("a", NodeState.REQUESTED, boot_deadline=100.0)], snap(), {EC2: Inventory(EC2)}, 99.0
    )
    assert early.corrections == ()
    late = reconcile(
        [rec("a", NodeState.REQUESTED, boot_deadline=100.0)], snap(), {EC2: Inventory(EC2)}, 101.0
    )
    assert late.corrections[0].fields["state"] is NodeState.GONE


def test_vms_on_an_unreachable_host_are_not_declared_vanished():
    from elastic.model import Host

    local = ProviderKind.LIBVIRT
    row = record("a", provider=local, location="hv1")
    down = Inventory(local, hosts=(Host("hv1", 8, 8000, 0, 0, reachable=False),))
    r = reconcile([row], snap(LrmNode("a", LrmNodeState.BUSY)), {local: down}, 9.0)
    assert all("state" not in c.fields for c in r.corrections)


def running(job_id: str, hosts: tuple[str, ...], start: float | None, walltime: int | None):
    from elastic.model import Job

    return Job(job_id, running=True, hosts=hosts, start_time=start, walltime_s=walltime)


def test_a_busy_node_is_bounded_by_its_jobs_latest_walltime_end_or_not_at_all():
    from elastic.reconcile import work_ends

    snapshot = QueueSnapshot(
        jobs=(
            running("1", ("a",), 100.0, 600),
            running("2", ("a", "b"), 200.0, 3600),  # spans two hosts
            running("3", ("c",), 100.0, None),  # no walltime: no bound
            running("4", ("d",), None, 600),  # no start time: no bound
            running("5", ("e",), 100.0, 60),
        ),
        nodes=(
            LrmNode("a", LrmNodeState.BUSY, running_jobs=2),
            LrmNode("e", LrmNodeState.BUSY, running_jobs=2),  # one job the listing omits
        ),
    )
    assert work_ends(snapshot) == {"a": 3800.0, "b": 3800.0, "c": None, "d": None, "e": None}
    r = reconcile(
        [rec("a", NodeState.READY), rec("e", NodeState.READY)],
        snapshot,
        {EC2: Inventory(EC2, vms=(vm("a"), vm("e")))},
        300.0,
    )
    assert {w.id: w.busy_until for w in r.workers} == {"a": 3800.0, "e": None}
    untrusted = reconcile(
        [rec("a", NodeState.READY)],
        snapshot,
        {EC2: Inventory(EC2, vms=(vm("a"),))},
        300.0,
        trusted=False,
    )
    assert untrusted.workers[0].busy_until is None
