"""B3: CLUES-like. Power nodes on for pending jobs with at most two booting at a time;
power them off after 600 s idle."""

from __future__ import annotations

from elastic.config import Site
from elastic.model import Boot, NodeState, Observation, Plan
from elastic.planning import plan
from elastic.sim.baselines.common import NOT_ELASTIC, with_changes
from elastic.sim.engine import Policy

MAX_BOOTING = 2


def make(site: Site) -> tuple[Policy, Site]:
    changed = with_changes(
        site, policy={"idle_timeout_local_s": 600, "idle_timeout_cloud_s": 600, **NOT_ELASTIC}
    )

    def policy(observation: Observation, site: Site, now: float) -> Plan:
        decided = plan(observation, site, now)
        booting = sum(1 for n in observation.nodes if n.state is NodeState.BOOTING)
        room = max(0, MAX_BOOTING - booting)
        boots = tuple(a for a in decided.actions if isinstance(a, Boot))[:room]
        others = tuple(a for a in decided.actions if not isinstance(a, Boot))
        return Plan(boots + others, decided.unplaceable, decided.decisions)

    return policy, changed
