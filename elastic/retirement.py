"""Which nodes to drain and which to destroy: the scale-down half of the plan.

Layer: pure (imports model and config). The safety rules live here and only
here: a node that runs a job is never drained for idleness nor destroyed; a
node whose LRM state is UNKNOWN is never touched; cloud nodes go before local
ones because they cost money by the second; and a node is always drained
before it is destroyed, so the LRM stops sending it work first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from elastic.config import Site, VoConfig
from elastic.model import (
    ALIVE_STATES,
    Destroy,
    Drain,
    LrmNodeState,
    NodeState,
    ProviderKind,
    WorkerNode,
)

#: LRM states in which a node provably runs nothing and accepts nothing new.
EMPTY_STATES = frozenset(
    {LrmNodeState.DRAINED, LrmNodeState.IDLE, LrmNodeState.ABSENT, LrmNodeState.DOWN}
)
UPCOMING_STATES = frozenset({NodeState.REQUESTED, NodeState.BOOTING, NodeState.JOINING})


@dataclass(frozen=True)
class VoCapacity:
    """How a VO's nodes split this pass, as both scale-up and scale-down see it."""

    alive: int
    upcoming: int
    idle: int

    def spare(self, nodes_needed: int, min_nodes: int) -> int:
        """How many nodes the VO can lose: booting or idle beyond its pending demand,
        and never below ``min_nodes``."""
        return min(self.upcoming + self.idle - nodes_needed, self.alive - min_nodes)

    @staticmethod
    def of(nodes: Sequence[WorkerNode]) -> VoCapacity:
        return VoCapacity(
            alive=sum(1 for n in nodes if n.state in ALIVE_STATES),
            upcoming=sum(1 for n in nodes if n.state in UPCOMING_STATES),
            idle=sum(1 for n in nodes if is_idle(n)),
        )


def is_idle(node: WorkerNode) -> bool:
    return (
        node.state is NodeState.READY
        and node.lrm_state is LrmNodeState.IDLE
        and node.running_jobs == 0
    )


def idle_timeout_s(node: WorkerNode, site: Site) -> int:
    if node.provider is ProviderKind.EC2:
        return site.policy.idle_timeout_cloud_s
    return site.policy.idle_timeout_local_s


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
    if node.state in UPCOMING_STATES and late and node.lrm_state is not LrmNodeState.IDLE:
        return f"did not join the LRM within boot_timeout_s={site.policy.boot_timeout_s}"
    return None


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
) -> list[Drain]:
    """Drain idle nodes past their timeout that pending work does not need.

    Spare capacity is what is booting or idle beyond the pending demand; never
    more than that is drained, and never below ``min_nodes``.
    """
    limit = VoCapacity.of(nodes).spare(nodes_needed, vo.min_nodes)
    if limit <= 0:
        return []
    expired = [
        n
        for n in nodes
        if is_idle(n) and n.idle_since is not None and now - n.idle_since >= idle_timeout_s(n, site)
    ]
    expired.sort(key=lambda n: (n.provider is not ProviderKind.EC2, n.idle_since or 0.0, n.id))
    return [
        Drain(
            n.id,
            vo.name,
            f"idle {now - (n.idle_since or now):.0f} s ≥ {idle_timeout_s(n, site)} s "
            f"({n.provider}), not needed by {nodes_needed} node(s) of pending demand",
        )
        for n in expired[:limit]
    ]


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
