"""A static local cluster: every local host filled with VO workers at the start.

Layer: pure simulation policy (no ``elastic.planning``). What a site without any
autoscaler runs: at t = 0 the hosts are split among the VOs by ``vos[].share`` (each
new worker goes to the VO furthest below its share of the workers so far), ready at
once; nothing changes after that and nothing goes to the cloud.
"""

from __future__ import annotations

from collections.abc import Mapping

from elastic.config import Site
from elastic.model import Action, Observation
from elastic.sim.baselines.common import Baseline, Room


class Static(Baseline):
    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        if now > 0:
            return []
        room = Room.of(observation, site)
        held = {vo.name: 0 for vo in site.vos}
        open_vos = list(site.vos)
        while open_vos:
            vo = min(open_vos, key=lambda v: (held[v.name] / max(v.share, 1e-9), v.name))
            if room.boot(vo, "static cluster") is None:  # the site has no ec2 section
                open_vos.remove(vo)
            else:
                held[vo.name] += 1
        return list(room.boots)


def make(site: Site) -> tuple[Static, Site]:
    return Static(), site.model_copy(update={"ec2": None})
