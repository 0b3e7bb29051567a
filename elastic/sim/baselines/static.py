"""B0: a static local cluster. Every local host is filled with VO workers (by share) at
the start, ready at once; nothing ever changes after that."""

from __future__ import annotations

from elastic.config import Site
from elastic.model import Observation, Plan
from elastic.planning.scale_up import boots_for, place_local
from elastic.planning.state import PassState, View
from elastic.sim.engine import Policy


def make(site: Site) -> tuple[Policy, Site]:
    def policy(observation: Observation, site: Site, now: float) -> Plan:
        if now > 0:
            return Plan()
        view = View.of(observation, site, now)
        state = PassState.start(view)
        state.boots_left = 10**6
        for vo in site.vos:
            state.want(vo.name, 10**6)
        place_local(state, view)
        return Plan(tuple(boots_for(site, state.placements, observation.next_serial)))

    return policy, site
