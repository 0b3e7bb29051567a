"""Helpers shared by the baselines: site copies and plan filters."""

from __future__ import annotations

from typing import Any

from elastic.config import Site
from elastic.model import Plan
from elastic.planning import plan
from elastic.sim.engine import Policy

#: elastic's own moves between VOs and from cloud to local, which the systems the
#: baselines stand for do not make: off in those that take the real planner's decisions
NOT_ELASTIC: dict[str, Any] = {"reclaim_idle": False, "repatriate_cloud": False}


def with_changes(site: Site, *, policy: dict[str, Any] | None = None, **top: Any) -> Site:
    """A copy of ``site`` with some top-level sections or policy keys replaced."""
    if policy:
        top["policy"] = site.policy.model_copy(update=policy)
    return site.model_copy(update=top)


def only(p: Plan, keep: set[str]) -> Plan:
    return Plan(tuple(a for a in p.actions if a.kind in keep), p.unplaceable, p.decisions, p.notes)


def elastic(site: Site) -> tuple[Policy, Site]:
    """elastic itself: the real planner, unchanged, on the site as configured."""
    return plan, site
