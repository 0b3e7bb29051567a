"""Baseline policies, one small module each, all with the planner's signature.

``POLICIES`` maps a name to a factory ``site -> (policy, site the policy runs on)``.
Several baselines are the real planner on a modified site (that *is* the policy a
site admin would get by configuring elastic that way); the others decide
differently and live in their own module.
"""

from __future__ import annotations

from collections.abc import Callable

from elastic.config import Site
from elastic.sim.baselines import (
    always_cloud,
    clues,
    local_only,
    slurm_powersave,
    starcluster,
    static,
)
from elastic.sim.baselines.common import elastic
from elastic.sim.engine import Policy

Factory = Callable[[Site], tuple[Policy, Site]]

POLICIES: dict[str, Factory] = {
    "elastic": elastic,
    "B0-static": static.make,
    "B1-local-only": local_only.make,
    "B2-always-cloud": always_cloud.make,
    "B3-clues": clues.make,
    "B4-starcluster": starcluster.make,
    "B5-slurm-powersave": slurm_powersave.make,
}
