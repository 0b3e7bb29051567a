"""StarCluster's SGE load balancer (``starcluster loadbalance``), per VO cluster.

Layer: pure simulation policy (no ``elastic.planning``). Written from
``starcluster/balancers/sge/__init__.py`` of github.com/jtriley/StarCluster
(``SGELoadBalancer``: ``_eval_add_node``, ``_eval_remove_node``, ``_should_remove``):

- polls every ``polling_interval`` = 60 s, its default, whatever the grid's pass interval;
- adds nodes only when the queued slots exceed the available ones and the oldest
  queued job has waited more than ``wait_time`` (900 s), or at once when the cluster has
  no slots at all; it adds ``min(add_nodes_per_iteration, qw_slots // slots_per_host)``
  nodes (default 1, and the integer division is StarCluster's: a queue smaller than one
  host's slots adds none), never within ``stabilization_time`` (180 s) of its last change;
  the slots it counts are those of hosts up, not booting;
- removes nodes only when nothing is queued and the cluster is stable: each idle node
  is removed once it has been up ``kill_after`` minutes (45) past the hour, the rule for
  hourly billing (``starcluster-1h``); with per-second billing the balancer's kill_after
  is 0, so an idle node goes at once (``starcluster-1s``). Local workers are not billed:
  both variants remove them at once.

Deviations: StarCluster runs one cluster on EC2 with a master it never removes; here
each VO is one cluster, ``min_nodes`` is the VO's, and new nodes take local host room
before EC2.
"""

from __future__ import annotations

from collections.abc import Mapping

from elastic.config import Site
from elastic.model import Action, Observation, ProviderKind, WorkerNode
from elastic.sim.baselines.common import (
    Baseline,
    Room,
    destroy,
    free_of,
    is_idle,
    is_up,
    nodes_of,
    pending_of,
)

POLLING_INTERVAL_S = 60.0
WAIT_TIME_S = 900.0
ADD_NODES_PER_ITERATION = 1
STABILIZATION_TIME_S = 180.0
KILL_AFTER_MIN = 45


class StarCluster(Baseline):
    interval_s = POLLING_INTERVAL_S

    def __init__(self, kill_after_min: int) -> None:
        self.kill_after_s = kill_after_min * 60.0
        self.modified: dict[str, float] = {}  # VO -> last time its cluster changed

    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        room = Room.of(observation, site)
        actions: list[Action] = []
        for vo in site.vos:
            nodes = nodes_of(observation, vo.name)
            queued = pending_of(observation, vo.name)
            stable = now - self.modified.get(vo.name, -1e18) >= STABILIZATION_TIME_S
            hosts = [n for n in nodes if is_up(n)]
            total = sum(n.cores for n in hosts)
            if queued and len(nodes) < vo.max_nodes and (stable or total == 0):
                need = 0
                if total == 0:
                    need = 1
                else:
                    qw_slots = sum(j.cores for j in queued)
                    avail = sum(free_of(n, used) for n in hosts)
                    oldest = now - min(
                        now if j.submit_time is None else j.submit_time for j in queued
                    )
                    if qw_slots > avail and oldest > WAIT_TIME_S:
                        need = qw_slots // vo.flavor.cores
                need = min(ADD_NODES_PER_ITERATION, need, vo.max_nodes - len(nodes))
                for _ in range(need):
                    boot = room.boot(vo, "StarCluster: queued slots exceed available")
                    if boot is not None:
                        actions.append(boot)
                        self.modified[vo.name] = now
            if not queued and stable:
                removable = max(0, len(nodes) - vo.min_nodes)
                idle = [n for n in nodes if is_idle(n) and self._should_remove(n, now)]
                if idle[:removable]:
                    actions += destroy(idle[:removable], "StarCluster: idle, queue empty")
                    self.modified[vo.name] = now
        return actions

    def _should_remove(self, node: WorkerNode, now: float) -> bool:
        if node.provider is not ProviderKind.EC2:
            return True
        return (now - node.created_at) % 3600 >= self.kill_after_s


def make_hourly(site: Site) -> tuple[StarCluster, Site]:
    return StarCluster(KILL_AFTER_MIN), site


def make_per_second(site: Site) -> tuple[StarCluster, Site]:
    return StarCluster(0), site
