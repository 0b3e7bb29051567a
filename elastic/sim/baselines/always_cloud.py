"""B2: every job to EC2, no local hosts and no cloud limits: the cost ceiling."""

from __future__ import annotations

from elastic.config import Site
from elastic.planning import plan
from elastic.sim.baselines.common import with_changes
from elastic.sim.engine import Policy

UNLIMITED = 10**6


def make(site: Site) -> tuple[Policy, Site]:
    assert site.ec2 is not None, "always-cloud needs an ec2 section"
    ec2 = site.ec2.model_copy(update={"max_instances": UNLIMITED, "max_hourly_cost": 1e12})
    cloud = {"allowed": True, "max_nodes": UNLIMITED, "max_hourly_cost": 1e12}
    vos = [
        vo.model_copy(update={"cloud": vo.cloud.model_copy(update=cloud), "max_nodes": UNLIMITED})
        for vo in site.vos
    ]
    local = site.local.model_copy(update={"hosts": []})
    changed = with_changes(
        site, ec2=ec2, vos=vos, local=local, policy={"max_boots_per_pass": UNLIMITED}
    )
    return plan, changed
