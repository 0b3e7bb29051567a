"""Kubernetes cluster-autoscaler's scale-up and scale-down rules, applied to batch jobs.

Layer: pure simulation policy (no ``elastic.planning``). Written from the
cluster-autoscaler FAQ (github.com/kubernetes/autoscaler,
``cluster-autoscaler/FAQ.md``: "How does scale-up work?", "How does scale-down work?",
"What are the parameters to CA?"):

- scale-up: pending jobs that fit no node, upcoming (booting) nodes counted as capacity,
  are bin-packed (the estimator) into new nodes of the first node group with room,
  local first (a ``priority`` expander);
- scale-down: a node whose requested cores are below ``scale-down-utilization-threshold``
  (0.5) of its capacity is unneeded; unneeded for ``scale-down-unneeded-time``
  (10 min) it is removed, if its pods can go elsewhere, at most
  ``max-empty-bulk-delete`` (10) empty nodes at once, and none within
  ``scale-down-delay-after-add`` (10 min) of a scale-up.

Batch jobs cannot move without being killed (a pod with
``cluster-autoscaler.kubernetes.io/safe-to-evict: "false"``), so only a node that runs
nothing is removed. Deviation: CA scans every 10 s; here every pass interval of the grid.
"""

from __future__ import annotations

from collections.abc import Mapping

from elastic.config import Site
from elastic.model import Action, Observation
from elastic.sim.baselines.common import (
    Baseline,
    Room,
    destroy,
    first_fit,
    free_of,
    is_booting,
    is_up,
    nodes_of,
    pending_of,
)

SCALE_DOWN_UTILIZATION_THRESHOLD = 0.5
SCALE_DOWN_UNNEEDED_TIME_S = 600.0
SCALE_DOWN_DELAY_AFTER_ADD_S = 600.0
MAX_EMPTY_BULK_DELETE = 10


class ClusterAutoscaler(Baseline):
    def __init__(self) -> None:
        self.unneeded: dict[str, float] = {}  # node -> since when
        self.last_add = -1e18

    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        room = Room.of(observation, site)
        actions: list[Action] = []
        for vo in site.vos:
            nodes = nodes_of(observation, vo.name)
            bins = [free_of(n, used) for n in nodes if is_up(n)]
            bins += [n.cores for n in nodes if is_booting(n)]
            for _ in range(first_fit(pending_of(observation, vo.name), bins, vo.flavor.cores)):
                boot = room.boot(vo, "cluster-autoscaler: unschedulable jobs")
                if boot is None:
                    break
                actions.append(boot)
                self.last_add = now
        seen: set[str] = set()
        empty = []
        for node in observation.nodes:
            if not is_up(node):
                continue
            use = (node.cores - free_of(node, used)) / node.cores
            if use >= SCALE_DOWN_UTILIZATION_THRESHOLD:
                continue
            seen.add(node.id)
            since = self.unneeded.setdefault(node.id, now)
            if now - since >= SCALE_DOWN_UNNEEDED_TIME_S and not node.running_jobs:
                empty.append(node)
        self.unneeded = {k: v for k, v in self.unneeded.items() if k in seen}
        if now - self.last_add >= SCALE_DOWN_DELAY_AFTER_ADD_S:
            floor = {vo.name: vo.min_nodes for vo in site.vos}
            count = {vo.name: len(nodes_of(observation, vo.name)) for vo in site.vos}
            chosen = []
            for node in empty[:MAX_EMPTY_BULK_DELETE]:
                if count[node.vo] > floor[node.vo]:
                    chosen.append(node)
                    count[node.vo] -= 1
            actions += destroy(chosen, "cluster-autoscaler: unneeded for 10 min")
        return actions


def make(site: Site) -> tuple[ClusterAutoscaler, Site]:
    return ClusterAutoscaler(), site
