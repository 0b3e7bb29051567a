"""What a killed pass left, and how this pass finishes or rolls back each piece.

Layer: pure (imports model and the ledger's record types). Run at the start of a
pass, under the site lock, after the providers were read: every intent still
open was opened by a pass that died (or, in a daemon, by a call abandoned at its
deadline, which the engine leaves out), and every REQUESTED, BOOTING or RETIRING
node is a step that was cut short. The state machine, and what a crash at each
point leaves, is in docs/architecture.md ("Node states and crash points").

- a boot whose VM exists (found by its tag or metadata) continues now: recorded
  as BOOTING, registered with the LRM (idempotent), JOINING; not at
  ``boot_timeout_s``, so its capacity is not lost and the VM not wasted;
- a boot with no VM, its provider read: the node is failed (never started);
- a drain whose node the ledger still has READY: drained again (idempotent);
- a RETIRING node: removed from the LRM and destroyed again (idempotent);
  the destroy was decided on evidence, RETIRING is its point of no return;
- a destroy cut short before RETIRING: rolled back, the planner decides again;
- an intent whose node already reached the state it aimed at: closed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from elastic.model import Intent, NodeRecord, NodeState, ProviderKind, VMRef

STEPS = ("resume-boot", "fail-boot", "redo-drain", "finish-destroy", "close")
WAIT = ("wait", "")


@dataclass(frozen=True)
class RecoveryStep:
    node_id: str
    step: str  # one of STEPS
    reason: str
    intents: tuple[int, ...] = ()
    vm: VMRef | None = None


def plan_recovery(
    intents: Sequence[Intent],
    records: Sequence[NodeRecord],
    vms: Mapping[str, VMRef],
    read: Collection[ProviderKind],
    in_flight: Collection[str] = (),
    started: float | None = None,
) -> list[RecoveryStep]:
    """One step per node with open intents or a cut-short state.

    ``vms`` are the providers' VMs by node id, ``read`` the providers whose
    inventory was read this pass (no VM in an unread one proves nothing),
    ``in_flight`` nodes whose call this process abandoned and may still finish,
    ``started`` this pass's start: nodes recorded since are this pass's own.
    """
    by_node: dict[str, list[Intent]] = {}
    for intent in intents:
        by_node.setdefault(intent.node_id, []).append(intent)
    known = {r.id: r for r in records}
    steps: list[RecoveryStep] = []
    for node_id in sorted(set(by_node) | {r.id for r in records}):
        if node_id in in_flight:
            continue
        open_ = by_node.get(node_id, [])
        ids = tuple(i.id for i in open_)
        record = known.get(node_id)
        if record is None:
            if ids:
                steps.append(RecoveryStep(node_id, "close", "no live ledger record", ids))
            continue
        if started is not None and record.state_since >= started:
            continue
        step = _step(record, {i.kind for i in open_}, vms.get(node_id), record.provider in read)
        if step == WAIT:
            continue  # its provider was not read: a later pass decides, the intent stays open
        if step is not None:
            steps.append(RecoveryStep(node_id, step[0], step[1], ids, vms.get(node_id)))
        elif ids:
            steps.append(RecoveryStep(node_id, "close", f"node is {record.state}", ids))
    return steps


def _step(
    record: NodeRecord, kinds: set[str], vm: VMRef | None, read: bool
) -> tuple[str, str] | None:
    state = record.state
    if state in {NodeState.REQUESTED, NodeState.BOOTING}:
        if vm is not None and not vm.terminated:
            return "resume-boot", f"interrupted boot: VM {vm.instance_id} exists; continuing"
        if read:
            return "fail-boot", "interrupted boot: no VM was made"
        return WAIT  # cannot tell yet: the next pass that reads the provider decides
    if state is NodeState.RETIRING:
        if not read:
            return WAIT
        return "finish-destroy", "interrupted destroy: removing and destroying again"
    if state is NodeState.READY and "drain" in kinds:
        return "redo-drain", "interrupted drain: draining again"
    if "destroy" in kinds and state is not NodeState.GONE:
        return "close", f"destroy rolled back before it started (node {state}); planned again"
    return None
