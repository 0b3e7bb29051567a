"""Which nodes to drain and which to destroy: the scale-down half of the plan.

Layer: pure. The safety rules live here and only
here: a node that runs a job is never drained for idleness nor destroyed; a
node whose LRM state is UNKNOWN is never touched; cloud nodes go before local
ones because they cost money by the second; and a node is always drained
before it is destroyed, so the LRM stops sending it work first.
"""

from __future__ import annotations

from collections.abc import Sequence

from elastic.config import Site, VoConfig
from elastic.model import Destroy, Drain, LrmNodeState, NodeState, ProviderKind, WorkerNode
from elastic.planning import reasons
from elastic.planning.capacity import UPCOMING_STATES, VoCapacity
from elastic.planning.state import PassState, View
from elastic.planning.thresholds import idle_timeout

#: LRM states in which a node provably runs nothing and accepts nothing new.
EMPTY_STATES = frozenset(
    {LrmNodeState.DRAINED, LrmNodeState.IDLE, LrmNodeState.ABSENT, LrmNodeState.DOWN}
)


def proven_empty(node: WorkerNode, site: Site, now: float) -> bool:
    """Positive evidence that the node runs nothing and will be given nothing.

    A node the LRM does not list (ABSENT) is empty only when the last trusted
    reading that listed it showed it running nothing, or once it has been dark
    past ``dark_timeout_s``: a qhost that suddenly returns no hosts must not
    retire a node with a running job.
    """
    if node.lrm_state is LrmNodeState.UNKNOWN or node.running_jobs > 0:
        return False
    if node.lrm_state not in EMPTY_STATES:
        return False
    if node.lrm_state is LrmNodeState.ABSENT and node.last_running > 0:
        dark_for = now - node.dark_since if node.dark_since is not None else 0.0
        return dark_for >= site.policy.dark_timeout_s
    return True


def destroy_reason(node: WorkerNode, site: Site, now: float) -> str | None:
    """Why this node may be destroyed now, or None when it must stay."""
    if not proven_empty(node, site, now):
        return None
    if node.state is NodeState.DRAINING:
        return f"drained and empty (LRM state {node.lrm_state})"
    if node.state is NodeState.RETIRING:
        return "finishing an interrupted destroy"
    if node.state is NodeState.FAILED:
        return f"failed and empty (LRM state {node.lrm_state})"
    if node.state is NodeState.ORPHAN:
        age = now - node.state_since
        if age < site.policy.orphan_grace_s:
            return None
        return (
            f"orphan for {age:.0f} s ≥ orphan_grace_s={site.policy.orphan_grace_s}, "
            f"LRM state {node.lrm_state}"
        )
    late = node.boot_deadline is not None and now >= node.boot_deadline
    if node.state not in UPCOMING_STATES or not late:
        return None
    if node.lrm_state is LrmNodeState.IDLE:  # reconcile made every other listed one READY
        return (
            f"listed idle but not ready within boot_timeout_s={site.policy.boot_timeout_s}: "
            "its VO's probe job never ran on it"
        )
    return f"did not join the LRM within boot_timeout_s={site.policy.boot_timeout_s}"


def plan_destroys(nodes: Sequence[WorkerNode], site: Site, now: float) -> list[Destroy]:
    destroys = []
    for node in nodes:
        reason = destroy_reason(node, site, now)
        if reason is not None:
            never_joined = node.state in UPCOMING_STATES
            destroys.append(Destroy(node.id, node.vo, reason, never_joined=never_joined))
    return destroys


def plan_drains(
    vo: VoConfig,
    nodes: Sequence[WorkerNode],
    nodes_needed: int,
    site: Site,
    now: float,
    state: PassState,
) -> list[Drain]:
    """Drain idle nodes past their timeout that pending work does not need.

    Spare capacity is what is booting or idle beyond the pending demand; never
    more than that is drained, and never below ``min_nodes``. Each idle node kept is
    recorded in ``state`` with why.
    """
    capacity = VoCapacity.of(nodes)
    floor = state.view.floor(vo)
    limit = capacity.spare(nodes_needed, floor)
    by_min = capacity.alive - floor < capacity.upcoming + capacity.idle - nodes_needed
    idle = [n for n in nodes if n.idle]
    idle.sort(key=lambda n: (n.provider is not ProviderKind.EC2, n.idle_since or 0.0, n.id))
    drains: list[Drain] = []
    for node in idle:
        idle_s = now - (node.idle_since if node.idle_since is not None else now)
        threshold = idle_timeout(node, site, state.view.observation.boot_p95_s)
        timeout = threshold.seconds
        if node.idle_since is None or idle_s < timeout:
            state.keep(node, reasons.idle_below_threshold(idle_s, threshold))
            continue
        if len(drains) >= max(0, limit):
            why = (
                state.view.floor_reason(vo, capacity.alive)
                if by_min
                else reasons.needed(nodes_needed)
            )
            state.keep(node, why)
            continue
        drains.append(
            Drain(
                node.id,
                vo.name,
                f"idle {idle_s:.0f} s ≥ {reasons.threshold_words(threshold)} "
                f"({node.provider}), not needed by {nodes_needed} node(s) of pending demand",
            )
        )
    return drains


def overdue_drains(nodes: Sequence[WorkerNode], site: Site, now: float) -> list[str]:
    """Drains past ``drain_timeout_s`` that still run jobs: reported, never forced."""
    return [
        f"{n.id} has drained for {now - n.state_since:.0f} s (drain_timeout_s="
        f"{site.policy.drain_timeout_s}) and still runs {n.running_jobs} job(s); "
        "it is kept until they end"
        for n in nodes
        if n.state is NodeState.DRAINING
        and n.running_jobs > 0
        and now - n.state_since > site.policy.drain_timeout_s
    ]


def retire(state: PassState, view: View) -> list[Drain]:
    """Idle drains for every VO, and a kept reason for each idle node left alone."""
    drains: list[Drain] = []
    for vo in view.site.vos:
        nodes = view.nodes(vo.name)
        if not view.scale_down:
            for node in nodes:
                if node.idle and node.id not in state.taken:
                    state.keep(node, reasons.scale_down_held())
            continue
        kept = [n for n in nodes if n.id not in state.taken]
        drains += plan_drains(vo, kept, view.needed(vo.name), view.site, view.now, state)
    return drains
