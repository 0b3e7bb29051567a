"""Always cloud: every job on EC2 at once, no local hosts, no limits; the cost ceiling.

Layer: pure simulation policy (no ``elastic.planning``). Each pass, the pending jobs
that fit no worker up or booting get new cloud workers (first fit), and every idle
worker is destroyed at once: no wait before renting and no idle billed beyond a pass.
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
    is_idle,
    is_up,
    nodes_of,
    pending_of,
)

UNLIMITED = 10**6


class AlwaysCloud(Baseline):
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
                boot = room.boot(vo, "always cloud", local=False)
                if boot is not None:
                    actions.append(boot)
            actions += destroy([n for n in nodes if is_idle(n)], "always cloud: idle")
        return actions


def make(site: Site) -> tuple[AlwaysCloud, Site]:
    assert site.ec2 is not None, "always-cloud needs an ec2 section"
    ec2 = site.ec2.model_copy(update={"max_instances": UNLIMITED, "max_hourly_cost": 1e12})
    cloud = {"allowed": True, "max_nodes": UNLIMITED, "max_hourly_cost": 1e12}
    vos = [
        vo.model_copy(update={"cloud": vo.cloud.model_copy(update=cloud), "max_nodes": UNLIMITED})
        for vo in site.vos
    ]
    local = site.local.model_copy(update={"hosts": []})
    return AlwaysCloud(), site.model_copy(update={"ec2": ec2, "vos": vos, "local": local})
