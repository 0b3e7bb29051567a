"""elastic itself and elastic with one of its moves off: ablations, not baselines.

Layer: pure simulation policies around ``elastic.planning.plan``, the real planner,
unchanged, on a copy of the site with one setting changed. They tell what each of
elastic's own rules is worth; they stand for no other system.
"""

from __future__ import annotations

from typing import Any

from elastic.config import Site
from elastic.planning import plan
from elastic.sim.engine import Policy


def _with_policy(site: Site, **changes: Any) -> Site:
    return site.model_copy(update={"policy": site.policy.model_copy(update=changes)})


def elastic(site: Site) -> tuple[Policy, Site]:
    """elastic: the real planner on the site as configured."""
    return plan, site


def without_reclaim(site: Site) -> tuple[Policy, Site]:
    """elastic that never drains another VO's idle local workers for room."""
    return plan, _with_policy(site, reclaim_idle=False)


def without_repatriation(site: Site) -> tuple[Policy, Site]:
    """elastic that keeps idle cloud workers to their timeout even when local room waits,
    and booting ones even when local room would be up as soon (no recall)."""
    return plan, _with_policy(site, repatriate_cloud=False)


def local_only(site: Site) -> tuple[Policy, Site]:
    """elastic that never bursts: the site without its ec2 section."""
    return plan, site.model_copy(update={"ec2": None})


def without_burst_delay(site: Site) -> tuple[Policy, Site]:
    """elastic that rents for a job the first pass it finds no local room: the site's
    ``cloud_burst_after_s`` set to 0 (the default of a site that sets none)."""
    return plan, _with_policy(site, cloud_burst_after_s=0)
