"""B1: elastic that never bursts: the real planner on the site without its ec2 section."""

from __future__ import annotations

from elastic.config import Site
from elastic.planning import plan
from elastic.sim.baselines.common import with_changes
from elastic.sim.engine import Policy


def make(site: Site) -> tuple[Policy, Site]:
    return plan, with_changes(site, ec2=None)
