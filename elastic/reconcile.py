"""Ledger vs. provider inventory vs. LRM view: what changed since the last pass.

Layer: pure (imports model and ledger's record type). The providers and the
LRM are the truth about what exists; the ledger is the truth about intent.
This module compares them and returns the corrections for the engine to write,
plus the merged ``WorkerNode`` view the planner reads. Rules:

- a booting or joining node that the LRM now lists as up is ready;
- a node whose VM vanished is failed (gone, if it was being retired), so the
  planner cleans the LRM side once the LRM confirms it runs nothing; this only
  when its provider and host were read: a silent host says nothing of its VMs;
- a VM with our tags but no live ledger row is an orphan: adopted as failed,
  so it is destroyed unless the LRM shows it running jobs;
- idle time is counted from the first pass the LRM showed the node idle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from elastic.ledger import NodeRecord
from elastic.model import (
    Inventory,
    LrmNodeState,
    NodeState,
    ProviderKind,
    QueueSnapshot,
    VMRef,
    WorkerNode,
)

UP_STATES = frozenset({LrmNodeState.IDLE, LrmNodeState.BUSY})
HAS_VM_STATES = frozenset(
    {NodeState.BOOTING, NodeState.JOINING, NodeState.READY, NodeState.DRAINING, NodeState.FAILED}
)


@dataclass(frozen=True)
class Correction:
    node_id: str
    fields: dict[str, Any]
    message: str = ""  # non-empty: worth an event line


@dataclass(frozen=True)
class Reconciliation:
    corrections: tuple[Correction, ...] = ()
    orphans: tuple[NodeRecord, ...] = ()
    workers: tuple[WorkerNode, ...] = ()
    notes: tuple[str, ...] = field(default=())


def lrm_state_of(node_id: str, snapshot: QueueSnapshot | None) -> tuple[LrmNodeState, int]:
    if snapshot is None:
        return LrmNodeState.UNKNOWN, 0
    listed = snapshot.node(node_id)
    if listed is None:
        return LrmNodeState.ABSENT, 0
    return listed.state, listed.running_jobs


def _vm_changes(
    record: NodeRecord, vm: VMRef | None, inventory_read: bool, now: float
) -> tuple[dict[str, Any], str]:
    if not inventory_read or vm is not None:
        return {}, ""
    if record.state is NodeState.RETIRING:
        return {"state": NodeState.GONE, "reason": "VM destroyed"}, "VM is gone"
    if record.state in HAS_VM_STATES and record.state is not NodeState.FAILED:
        reason = f"VM vanished from {record.provider} while {record.state}"
        return {"state": NodeState.FAILED, "reason": reason}, reason
    late = record.boot_deadline is not None and now >= record.boot_deadline
    if record.state is NodeState.REQUESTED and late:
        reason = "boot was requested but no VM ever appeared"
        return {"state": NodeState.GONE, "reason": reason}, reason
    return {}, ""


def _lrm_changes(
    record: NodeRecord, state: NodeState, lrm_state: LrmNodeState, running: int, now: float
) -> tuple[dict[str, Any], str]:
    changes: dict[str, Any] = {}
    message = ""
    if state in {NodeState.BOOTING, NodeState.JOINING} and lrm_state in UP_STATES:
        changes["state"] = NodeState.READY
        changes["reason"] = "joined the LRM"
        message = "joined the LRM"
        state = NodeState.READY
    idle = state is NodeState.READY and lrm_state is LrmNodeState.IDLE and running == 0
    if idle and record.idle_since is None:
        changes["idle_since"] = now
    elif not idle and record.idle_since is not None and lrm_state is not LrmNodeState.UNKNOWN:
        changes["idle_since"] = None
    return changes, message


def reconcile(
    records: Sequence[NodeRecord],
    snapshot: QueueSnapshot | None,
    inventories: Mapping[ProviderKind, Inventory | None],
    now: float,
    prices: Mapping[str, float] | None = None,
) -> Reconciliation:
    """Compare; return corrections, orphans to adopt and the merged worker view."""
    vms: dict[str, VMRef] = {}
    for inventory in inventories.values():
        if inventory is not None:
            vms.update({vm.node_id: vm for vm in inventory.vms})
    corrections: list[Correction] = []
    workers: list[WorkerNode] = []
    known = {r.id for r in records}
    unreachable = {
        host.name
        for inventory in inventories.values()
        if inventory is not None
        for host in inventory.hosts
        if not host.reachable
    }
    for record in records:
        vm = vms.get(record.id)
        read = inventories.get(record.provider) is not None and record.location not in unreachable
        changes, message = _vm_changes(record, vm, read, now)
        state = changes.get("state", record.state)
        lrm_state, running = lrm_state_of(record.id, snapshot)
        more, joined = _lrm_changes(record, state, lrm_state, running, now)
        changes.update(more)
        message = message or joined
        if changes:
            corrections.append(Correction(record.id, changes, message))
            record = replace(record, **changes)
        if record.state is not NodeState.GONE:
            workers.append(_worker(record, lrm_state, running))
    orphans = tuple(
        _orphan(vm, now, (prices or {}).get(vm.instance_type, 0.0))
        for node_id, vm in vms.items()
        if node_id not in known
    )
    workers += [_worker(o, *lrm_state_of(o.id, snapshot)) for o in orphans]
    return Reconciliation(tuple(corrections), orphans, tuple(workers))


def _orphan(vm: VMRef, now: float, hourly_cost: float) -> NodeRecord:
    """An untracked VM of ours; its price counts against the cloud budget at once."""
    return NodeRecord(
        id=vm.node_id,
        vo=vm.vo or "unknown",
        provider=vm.provider,
        location=vm.location,
        state=NodeState.FAILED,
        cores=0,
        memory_mb=0,
        created_at=vm.launched_at or now,
        state_since=now,
        instance_id=vm.instance_id,
        instance_type=vm.instance_type,
        hourly_cost=hourly_cost,
        reason="orphan: VM carries our tags but the ledger had no live record",
    )


def _worker(record: NodeRecord, lrm_state: LrmNodeState, running: int) -> WorkerNode:
    return WorkerNode(
        id=record.id,
        vo=record.vo,
        provider=record.provider,
        location=record.location,
        state=record.state,
        lrm_state=lrm_state,
        cores=record.cores,
        memory_mb=record.memory_mb,
        created_at=record.created_at,
        state_since=record.state_since,
        running_jobs=running,
        idle_since=record.idle_since,
        boot_deadline=record.boot_deadline,
        hourly_cost=record.hourly_cost,
        instance_type=record.instance_type,
    )
