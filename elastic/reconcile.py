"""Ledger vs. provider inventory vs. LRM view: what changed since the last pass.

Layer: pure (imports model and ledger's record type). The providers and the
LRM are the truth about what exists; the ledger is the truth about intent.
This module compares them and returns the corrections for the engine to write,
plus the merged ``WorkerNode`` view the planner reads. Rules:

- a booting or joining node that the LRM now lists as up is ready;
- a ready node that the LRM shows draining or drained is draining: a drain the
  engine made before a crash, or an administrator's own (``qmod -d``, ``scontrol
  update state=drain``), is respected and the node retired once empty, never undrained;
- a node whose VM vanished, or that its provider shows shut off, stopped or
  terminated (a spot reclaim included), is failed at once (gone, if it was being
  retired), so the planner cleans the LRM side once the LRM confirms it runs
  nothing; this only when its provider and host were read: a silent host says
  nothing of its VMs;
- a ready or draining node that the LRM shows down or does not list is dark from
  that pass on; dark for ``dark_timeout_s`` it is failed;
- a VM with our tags but no live ledger row is an orphan, destroyed after
  ``orphan_grace_s`` unless the LRM shows it running jobs;
- idle time is counted from the first pass the LRM showed the node idle, and the
  running jobs of a trusted reading are kept (``last_running``): a node that
  later drops out of the LRM's listing is not taken for an empty one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from elastic.config import Policy
from elastic.model import (
    Inventory,
    LrmNodeState,
    NodeRecord,
    NodeState,
    ProviderKind,
    QueueSnapshot,
    VMRef,
    WorkerNode,
    is_idle,
)

UP_STATES = frozenset({LrmNodeState.IDLE, LrmNodeState.BUSY})
DRAINED_STATES = frozenset({LrmNodeState.DRAINING, LrmNodeState.DRAINED})
DARK_STATES = frozenset({LrmNodeState.DOWN, LrmNodeState.ABSENT})
#: ledger states whose node the LRM had seen up: they can go dark
SEEN_STATES = frozenset({NodeState.READY, NodeState.DRAINING})
HAS_VM_STATES = frozenset(
    {
        NodeState.BOOTING,
        NodeState.JOINING,
        NodeState.READY,
        NodeState.DRAINING,
        NodeState.FAILED,
        NodeState.ORPHAN,
    }
)
#: states in which a VM that its provider stopped or ended makes the node failed
RUNNING_STATES = frozenset(
    {NodeState.BOOTING, NodeState.JOINING, NodeState.READY, NodeState.DRAINING}
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


def work_ends(snapshot: QueueSnapshot | None) -> dict[str, float | None]:
    """Per execution host, when the walltimes of its running jobs end at the latest;
    None for a host with a running job whose start or walltime the LRM does not give.

    A reservation's room may be drained ahead only by this bound (``planning.reserve``):
    a host missing here, or with more running jobs than the listing places on it, has
    no bound at all."""
    ends: dict[str, float | None] = {}
    seen: dict[str, int] = {}
    for job in snapshot.jobs if snapshot is not None else ():
        if not job.running:
            continue
        end = None
        if job.start_time is not None and job.walltime_s is not None:
            end = job.start_time + job.walltime_s
        for host in job.hosts:
            seen[host] = seen.get(host, 0) + 1
            known = ends.get(host, 0.0)
            ends[host] = None if end is None or known is None else max(known, end)
    for node in snapshot.nodes if snapshot is not None else ():
        if node.running_jobs > seen.get(node.name, 0):
            ends[node.name] = None  # work the job listing does not place: no bound
    return ends


def lrm_state_of(
    node_id: str, snapshot: QueueSnapshot | None, ends: Mapping[str, float | None] | None = None
) -> tuple[LrmNodeState, int, float | None]:
    if snapshot is None:
        return LrmNodeState.UNKNOWN, 0, None
    listed = snapshot.node(node_id)
    if listed is None:
        return LrmNodeState.ABSENT, 0, None
    bound = (ends or {}).get(node_id) if listed.running_jobs else None
    return listed.state, listed.running_jobs, bound


def _vm_changes(
    record: NodeRecord, vm: VMRef | None, inventory_read: bool, now: float
) -> tuple[dict[str, Any], str]:
    if not inventory_read:
        return {}, ""
    if vm is not None and vm.terminated:
        ended = f"VM {vm.instance_id} ended by {record.provider}"
        ended += f" ({vm.state_reason})" if vm.state_reason else ""
        if record.state in {NodeState.RETIRING, NodeState.ORPHAN}:
            return {"state": NodeState.GONE, "reason": ended}, ended
        if record.state in RUNNING_STATES:
            return {"state": NodeState.FAILED, "reason": ended}, ended
        return {}, ""
    if vm is not None:
        if record.state in RUNNING_STATES and not vm.running:
            stopped = f"VM {vm.instance_id} is not running on {record.provider}"
            stopped += f" ({vm.state_reason})" if vm.state_reason else ""
            return {"state": NodeState.FAILED, "reason": stopped}, stopped
        return {}, ""
    if record.state in {NodeState.RETIRING, NodeState.ORPHAN}:
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
    record: NodeRecord,
    state: NodeState,
    lrm_state: LrmNodeState,
    running: int,
    now: float,
    policy: Policy,
    trusted: bool,
) -> tuple[dict[str, Any], str]:
    changes: dict[str, Any] = {}
    message = ""
    if state in {NodeState.BOOTING, NodeState.JOINING} and lrm_state in UP_STATES:
        changes["state"] = NodeState.READY
        changes["reason"] = "joined the LRM"
        message = "joined the LRM"
        state = NodeState.READY
    if state is NodeState.READY and lrm_state in DRAINED_STATES:
        message = f"the LRM shows it {lrm_state}: drained outside this pass; retired once empty"
        changes["state"] = NodeState.DRAINING
        changes["reason"] = message
        state = NodeState.DRAINING
    idle = is_idle(state, lrm_state, running)
    if idle and record.idle_since is None:
        changes["idle_since"] = now
    elif not idle and record.idle_since is not None and lrm_state is not LrmNodeState.UNKNOWN:
        changes["idle_since"] = None
    # a node absent from the listing says nothing of its jobs: the last count stays
    listed = lrm_state not in {LrmNodeState.UNKNOWN, LrmNodeState.ABSENT}
    if trusted and listed and record.last_running != running:
        changes["last_running"] = running
    dark, dark_message = _dark_changes(record, state, lrm_state, now, policy)
    changes.update(dark)
    return changes, message or dark_message


def _dark_changes(
    record: NodeRecord, state: NodeState, lrm_state: LrmNodeState, now: float, policy: Policy
) -> tuple[dict[str, Any], str]:
    """The dark clock: from the first pass a seen node is down or missing in the LRM."""
    if state not in SEEN_STATES or lrm_state is LrmNodeState.UNKNOWN:
        return {}, ""
    if lrm_state not in DARK_STATES:
        return ({"dark_since": None}, "") if record.dark_since is not None else ({}, "")
    since = record.dark_since if record.dark_since is not None else now
    changes: dict[str, Any] = {} if record.dark_since is not None else {"dark_since": now}
    if now - since >= policy.dark_timeout_s:
        reason = (
            f"dark: the LRM shows it {lrm_state} for {now - since:.0f} s "
            f"(dark_timeout_s={policy.dark_timeout_s})"
        )
        changes.update(state=NodeState.FAILED, reason=reason)
        return changes, reason
    return changes, ""


def vms_by_node(inventories: Mapping[ProviderKind, Inventory | None]) -> dict[str, VMRef]:
    """Every provider's VMs by node id; a live VM wins over an ended one of the same node."""
    vms: dict[str, VMRef] = {}
    for inventory in inventories.values():
        for ref in inventory.vms if inventory is not None else ():
            if ref.node_id not in vms or vms[ref.node_id].terminated:
                vms[ref.node_id] = ref
    return vms


def reconcile(
    records: Sequence[NodeRecord],
    snapshot: QueueSnapshot | None,
    inventories: Mapping[ProviderKind, Inventory | None],
    now: float,
    prices: Mapping[str, float] | None = None,
    *,
    policy: Policy | None = None,
    trusted: bool = True,
) -> Reconciliation:
    """Compare; return corrections, orphans to adopt and the merged worker view.

    ``trusted`` is False for a reading that is valid but implausible: its running
    counts are then not kept as evidence of what the nodes run.
    """
    policy = policy or Policy()
    vms = vms_by_node(inventories)
    ends = work_ends(snapshot) if trusted else {}
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
        lrm_state, running, busy_until = lrm_state_of(record.id, snapshot, ends)
        more, joined = _lrm_changes(record, state, lrm_state, running, now, policy, trusted)
        changes.update(more)
        message = message or joined
        if changes:
            corrections.append(Correction(record.id, changes, message))
            record = replace(record, **changes)
        if record.state is not NodeState.GONE:
            workers.append(WorkerNode.of(record, lrm_state, running, busy_until))
    orphans = tuple(
        _orphan(vm, now, (prices or {}).get(vm.instance_type, 0.0))
        for node_id, vm in vms.items()
        if node_id not in known and not vm.terminated
    )
    workers += [WorkerNode.of(o, *lrm_state_of(o.id, snapshot, ends)) for o in orphans]
    return Reconciliation(tuple(corrections), orphans, tuple(workers))


def _orphan(vm: VMRef, now: float, hourly_cost: float) -> NodeRecord:
    """An untracked VM of ours; its price counts against the cloud budget at once."""
    return NodeRecord(
        id=vm.node_id,
        vo=vm.vo or "unknown",
        provider=vm.provider,
        location=vm.location,
        state=NodeState.ORPHAN,
        cores=0,
        memory_mb=0,
        created_at=vm.launched_at or now,
        state_since=now,
        instance_id=vm.instance_id,
        instance_type=vm.instance_type,
        hourly_cost=hourly_cost,
        reason="orphan: VM carries our tags but the ledger had no live record; destroyed "
        "after orphan_grace_s once the LRM shows it running nothing",
    )
