"""B4: StarCluster-like load balancer. Every 60 s, add one node when the oldest job has
waited more than 15 min; remove an idle node only in the last 5 min of its billed hour."""

from __future__ import annotations

from elastic.config import Site
from elastic.model import Destroy, Drain, LrmNodeState, NodeState, Observation, Plan
from elastic.planning import plan
from elastic.sim.baselines.common import NOT_ELASTIC, only, with_changes
from elastic.sim.engine import Policy

WAIT_S = 900.0
HOUR_END_S = 300.0


def make(site: Site) -> tuple[Policy, Site]:
    # it keeps only the planner's boots: wants that reclaim would cover, by drains B4
    # never makes, must not hold its boots back
    changed = with_changes(site, policy={"max_boots_per_pass": 1, **NOT_ELASTIC})
    oldest: dict[str, float] = {}

    def policy(observation: Observation, site: Site, now: float) -> Plan:
        pending = {job.id for job in observation.jobs if not job.running}
        for job_id in pending - oldest.keys():
            oldest[job_id] = now
        for job_id in oldest.keys() - pending:
            del oldest[job_id]
        waited = now - min(oldest.values()) if oldest else 0.0
        boots = only(plan(observation, site, now), {"boot"}).actions if waited > WAIT_S else ()
        actions: list[Drain | Destroy] = []
        for node in observation.nodes:
            into_hour = (now - node.created_at) % 3600
            idle = node.state is NodeState.READY and node.lrm_state is LrmNodeState.IDLE
            if idle and into_hour >= 3600 - HOUR_END_S:
                actions.append(Drain(node.id, node.vo, "idle near the end of its billed hour"))
            if node.state is NodeState.DRAINING and node.lrm_state is LrmNodeState.DRAINED:
                actions.append(Destroy(node.id, node.vo, "drained"))
        return Plan(tuple(boots) + tuple(actions))

    return policy, changed
