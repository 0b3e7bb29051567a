"""B5: Slurm power-saving defaults: resume up to 300 nodes a minute for pending work,
suspend a node after SuspendTime (600 s) idle."""

from __future__ import annotations

from elastic.config import Site
from elastic.planning import plan
from elastic.sim.baselines.common import NOT_ELASTIC, with_changes
from elastic.sim.engine import Policy

RESUME_RATE_PER_MIN = 300
SUSPEND_TIME_S = 600


def make(site: Site) -> tuple[Policy, Site]:
    per_pass = max(1, int(RESUME_RATE_PER_MIN * site.policy.pass_interval_s / 60))
    changed = with_changes(
        site,
        policy={
            "max_boots_per_pass": per_pass,
            "idle_timeout_local_s": SUSPEND_TIME_S,
            "idle_timeout_cloud_s": SUSPEND_TIME_S,
            **NOT_ELASTIC,
        },
    )
    return plan, changed
