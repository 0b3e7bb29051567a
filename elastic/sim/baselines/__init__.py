"""The faithful baselines: other systems' scaling rules, one small module each.

Layer: pure simulation policies. Each module follows the documentation and code of the
system it stands for, cites them, and decides with its own short code: none imports
``elastic.planning`` (an import contract in pyproject.toml holds them to that), so that
a comparison with elastic never measures the planner against itself. The planner-based
variants of elastic live in ``elastic.sim.ablations``.
"""

from __future__ import annotations

from collections.abc import Callable

from elastic.config import Site
from elastic.model import Observation, Plan
from elastic.sim.baselines import (
    always_cloud,
    clues,
    cluster_autoscaler,
    slurm_powersave,
    starcluster,
    static,
)

#: the planner's signature (as ``elastic.sim.engine.Policy``, not imported: the engine
#: uses the planner's destroy rule, and the baselines import nothing of the planner)
Policy = Callable[[Observation, Site, float], Plan]
Factory = Callable[[Site], tuple[Policy, Site]]

#: name -> factory ``site -> (policy, the site it runs on)``
BASELINES: dict[str, Factory] = {
    "static": static.make,
    "always-cloud": always_cloud.make,
    "clues": clues.make,
    "starcluster-1h": starcluster.make_hourly,
    "starcluster-1s": starcluster.make_per_second,
    "slurm-default": slurm_powersave.make_default,
    "slurm-tuned": slurm_powersave.make_tuned,
    "k8s-autoscaler": cluster_autoscaler.make,
}
#: the ones that scale (static and always-cloud are the floor and ceiling of the table)
SCALERS = (
    "clues",
    "starcluster-1h",
    "starcluster-1s",
    "slurm-default",
    "slurm-tuned",
    "k8s-autoscaler",
)
