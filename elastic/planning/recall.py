"""Booting cloud workers give way to local room that frees before they are up.

Layer: pure. A VO bursts once its jobs have waited ``cloud_burst_after_s`` for local
room; without walltimes nobody knows when local cores will free. Often they free a
minute later: another VO's long job ends, its workers go idle, and reclaim could hand
their room over — but the VO's wants are already covered by the cloud workers still
booting, so nothing is reclaimed, the LRM starts the jobs on the cloud workers as soon
as they are up, and the cloud bills the whole run while the local cores idle. On the
NASA trace, 59 % of the cloud core-hours were jobs for which local room for all their
workers appeared between the burst and their cloud start.

So a booting cloud worker that has not joined yet (no job can run there) is recalled
when a local worker, booted now, would be up no later than it plus the burst delay:
the wait the site already accepts for local room over paying. Its want is put back for
local placement and reclaim to meet this pass (``uncover``); what they could not meet
stays covered by the booting workers (``recall``), and only the workers whose room was
found locally are destroyed. Destroyed, not drained: the LRM does not list them, so
there is nothing to drain, and a drained worker the LRM never listed would read as
vanished to the plausibility check. The evidence is the one a never-joined worker is
destroyed on past its boot deadline (``scale_down.proven_empty``): not listed, no job
ever seen on it.
"""

from __future__ import annotations

from elastic.model import Destroy, LrmNodeState, NodeState, ProviderKind, WorkerNode
from elastic.planning.state import PassState, View
from elastic.planning.thresholds import boot_time, burst_delay

#: not yet in the LRM's scheduling: the provider has the VM, the LRM runs nothing there
_BOOTING = frozenset({NodeState.BOOTING, NodeState.JOINING})
#: LRM states in which a not-yet-ready worker provably runs and takes no job
_NOT_TAKING = frozenset({LrmNodeState.ABSENT, LrmNodeState.DOWN})


def units(node: WorkerNode, flavor_cores: int, flavor_memory_mb: int) -> int:
    """Whole workers of the VO's flavor the node holds (a sized cloud worker may hold
    several, or less than one: such a node is not recalled, its want is not whole)."""
    ratio = node.cores / flavor_cores
    if node.memory_mb > 0:
        ratio = min(ratio, node.memory_mb / flavor_memory_mb)
    return int(ratio + 1e-9)


def recallable(view: View, leaving: set[str]) -> dict[str, list[WorkerNode]]:
    """Per VO, its booting cloud workers a local boot now would overtake, or nearly.

    Only for a VO that can run locally, with no reservation due (its workers are the
    reservation's, planned on their own lead), while local hosts and the LRM are read
    and ``repatriate_cloud`` is on. Latest to be up first: they give the most wait back.
    """
    site, obs = view.site, view.observation
    if not (obs.local_ok and obs.cloud_ok and view.scale_down and site.policy.repatriate_cloud):
        return {}
    cloud_boot = boot_time(site, obs.boot_p95_s, ProviderKind.EC2).seconds
    local_up = view.now + site.policy.pass_interval_s
    local_up += boot_time(site, obs.boot_p95_s, ProviderKind.LIBVIRT).seconds
    slack = burst_delay(site, obs.boot_p95_s).seconds
    out: dict[str, list[WorkerNode]] = {}
    for vo in site.vos:
        if not vo.image.libvirt or view.reserved.get(vo.name):
            continue
        nodes = [
            n
            for n in view.nodes(vo.name)
            if n.provider is ProviderKind.EC2
            and n.id not in leaving
            and n.state in _BOOTING
            and n.lrm_state in _NOT_TAKING
            and n.running_jobs == 0
            and n.last_running == 0
            and units(n, vo.flavor.cores, vo.flavor.memory_mb) >= 1
            and local_up <= n.created_at + cloud_boot + slack
        ]
        if nodes:
            out[vo.name] = sorted(nodes, key=lambda n: (-n.created_at, -n.hourly_cost, n.id))
    return out


def recall(state: PassState, view: View) -> list[Destroy]:
    """Destroy the recallable workers whose wants local placement and reclaim met.

    Each VO's wants still open are first met by its recallable workers again, the
    earliest to be up first; the rest, whose room was found locally this pass, are
    destroyed. The VO's ``wanted`` and ``covered`` are put back for the wants the kept
    workers hold, so its decision reads as it would without them.
    """
    destroys: list[Destroy] = []
    for vo in view.site.vos:
        nodes = state.recallable.get(vo.name, [])
        if not nodes:
            continue
        flavor = (vo.flavor.cores, vo.flavor.memory_mb)
        open_wants = state.wants.get(vo.name, 0)
        keep: list[WorkerNode] = []
        for node in reversed(nodes):  # earliest to be up first
            if open_wants <= 0:
                break
            keep.append(node)
            open_wants -= units(node, *flavor)
        kept_units = sum(units(n, *flavor) for n in keep)
        met = min(state.wants.get(vo.name, 0), kept_units)
        state.wants[vo.name] = state.wants.get(vo.name, 0) - met
        # what the kept workers cover was never a new want: the decision's sum (wanted =
        # booted + reclaimed + short) stays true
        state.wanted[vo.name] = max(0, state.wanted.get(vo.name, 0) - met)
        state.covered[vo.name] = state.covered.get(vo.name, 0) + met
        gone = [n for n in nodes if n not in keep]
        for node in gone:  # past the early-drain budget one stays: repatriated once idle
            if state.early_drains_left <= 0:
                break
            state.retire_early(node.id)
            destroys.append(
                Destroy(
                    node.id,
                    vo.name,
                    "booting cloud worker, not joined yet: local room found this pass takes "
                    f"its place for {vo.name}, up no later than it plus the burst delay "
                    "(cloud nodes go first)",
                )
            )
    return destroys
