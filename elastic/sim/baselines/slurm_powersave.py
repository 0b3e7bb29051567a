"""Slurm power saving (``SuspendProgram``/``ResumeProgram``), with its defaults and tuned.

Layer: pure simulation policy (no ``elastic.planning``). Written from Slurm's Power
Saving Guide (slurm.schedmd.com/power_save.html) and ``slurm.conf(5)``:

- a pending job that the nodes up cannot start is allocated powered-down nodes, which
  ``ResumeProgram`` boots; at most ``ResumeRate`` nodes a minute (default 300);
- a node that has not registered within ``ResumeTimeout`` (default 60 s) is set DOWN
  and its jobs requeued (they get other nodes); a DOWN node is powered down once it has
  been down for ``SuspendTime`` (no ``ResumeFailProgram`` is set by default), and is
  billed until then;
- a node idle for ``SuspendTime`` is powered down by ``SuspendProgram``, at most
  ``SuspendRate`` a minute (default 60).

``SuspendTime``'s default, -1, disables power saving altogether (the guide: it "must be
defined ... and not be INFINITE or -1"), which leaves a static cluster. So
``slurm-default`` is the least a site must set to turn it on, ``SuspendTime`` 600 s,
with every other parameter at its default, ResumeTimeout 60 s included.
``slurm-tuned`` also sets ``ResumeTimeout`` to the site's ``boot_timeout_s`` (at least
the boot time), rates unchanged.

Deviations: slurmctld checks power saving every few seconds; here every pass interval
of the grid. Each VO is its own partition; its powered-down nodes are the local host
room first, then EC2 within the site's limits.
"""

from __future__ import annotations

from collections.abc import Mapping

from elastic.config import Site
from elastic.model import Action, NodeState, Observation
from elastic.sim.baselines.common import (
    Baseline,
    Room,
    destroy,
    first_fit,
    free_of,
    idle_for,
    is_booting,
    is_up,
    nodes_of,
    pending_of,
    stuck,
)

RESUME_RATE_PER_MIN = 300
SUSPEND_RATE_PER_MIN = 60
RESUME_TIMEOUT_S = 60.0
SUSPEND_TIME_S = 600.0  # the default, -1, turns power saving off


class SlurmPowerSave(Baseline):
    def __init__(self, suspend_time_s: float, resume_timeout_s: float) -> None:
        self.suspend_time_s = suspend_time_s
        self.resume_timeout = resume_timeout_s
        self.resume_timeout_s = resume_timeout_s  # the engine's: a slower node never joins
        self.last = 0.0

    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        minutes = max(now - self.last, site.policy.pass_interval_s) / 60
        self.last = now
        resumes = max(1, int(RESUME_RATE_PER_MIN * minutes))
        suspends = max(1, int(SUSPEND_RATE_PER_MIN * minutes))
        room = Room.of(observation, site)
        actions: list[Action] = []
        for vo in site.vos:
            nodes = nodes_of(observation, vo.name)
            down = stuck(nodes, now, self.resume_timeout)  # DOWN: no capacity
            gone = stuck(down, now, self.resume_timeout + self.suspend_time_s)
            actions += destroy(gone[:suspends], "Slurm: DOWN for SuspendTime")
            suspends -= len(gone[:suspends])
            bins = [free_of(n, used) for n in nodes if is_up(n)]
            lost = {n.id for n in down}
            bins += [n.cores for n in nodes if is_booting(n) and n.id not in lost]
            for _ in range(first_fit(pending_of(observation, vo.name), bins, vo.flavor.cores)):
                if resumes <= 0:
                    break
                boot = room.boot(vo, "Slurm: ResumeProgram for nodes allocated to a job")
                if boot is None:
                    break
                actions.append(boot)
                resumes -= 1
            limit = self.suspend_time_s
            idle = [n for n in nodes if n.state is NodeState.READY and idle_for(n, now) >= limit]
            actions += destroy(idle[:suspends], "Slurm: idle for SuspendTime")
            suspends -= len(idle[:suspends])
        return actions


def make_default(site: Site) -> tuple[SlurmPowerSave, Site]:
    return SlurmPowerSave(SUSPEND_TIME_S, RESUME_TIMEOUT_S), site


def make_tuned(site: Site) -> tuple[SlurmPowerSave, Site]:
    return SlurmPowerSave(SUSPEND_TIME_S, float(site.policy.boot_timeout_s)), site
