"""B0: a static local cluster. Every local host is filled with VO workers (by share) at
the start, ready at once; nothing ever changes after that."""

from __future__ import annotations

from elastic.config import Site
from elastic.model import Observation, Plan
from elastic.placement import place_local, rooms_of
from elastic.planner import boots_for
from elastic.sim.engine import Policy


def make(site: Site) -> tuple[Policy, Site]:
    def policy(observation: Observation, site: Site, now: float) -> Plan:
        if now > 0:
            return Plan()
        wants = {vo.name: 10**6 for vo in site.vos}
        placed = place_local(site, wants, rooms_of(observation.hosts), {}, [10**6])
        return Plan(tuple(boots_for(site, placed, observation.next_serial)))

    return policy, site
