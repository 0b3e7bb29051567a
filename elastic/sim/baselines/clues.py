"""CLUES (grycap/clues), as its scheduler pipeline and defaults decide.

Layer: pure simulation policy (no ``elastic.planning``). Written from
``clueslib/schedulers.py`` and ``etc/clues2.cfg-example`` of github.com/grycap/clues:

- ``SCHEDULER_CLASSES = CLUES_Scheduler_PowOn_Requests, CLUES_Scheduler_Reconsider_Jobs,
  CLUES_Scheduler_PowOff_IDLE``, the example's pipeline.
- Power-on per request: a job becomes a request when CLUES first sees it. Requests are
  taken in queue order: one that the nodes up can hold is served; one that booting nodes
  can hold is attended (it waits for them, its room booked); otherwise nodes are powered
  on for it, unless ``MAX_BOOTING_NODES`` (2) nodes are already booting, which stops the
  pass (``break``: later requests wait for the next one).
- ``RECONSIDER_JOB_TIME`` (60 s): a job still pending makes a new request only that long
  after its last one; until then its booked room is held.
- ``IDLE_TIME`` (1800 s): a node idle that long is powered off (``COOLDOWN_NODES`` 0).
- ``EXTRA_SLOTS_FREE`` 0 and ``EXTRA_NODES_FREE`` 0: no spare nodes (that scheduler is
  not in the default pipeline either).
- ``MAX_WAIT_POWERON`` (300 s): a node not up by then is failed and powered off. Here it
  is the larger of 300 s and the site's ``boot_timeout_s``, as an admin with slower boots
  sets it; at 300 s every 600 s boot of the sweep would fail.

Deviations: CLUES schedules every ``PERIOD_SCHEDULE`` (5 s); here every pass interval of
the grid. Each VO is its own virtual cluster with its own CLUES; its node list is the
local host room first, then EC2 within the site's limits.
"""

from __future__ import annotations

from collections.abc import Mapping

from elastic.config import Site
from elastic.model import Action, NodeState, Observation
from elastic.sim.baselines.common import (
    Baseline,
    Room,
    book,
    destroy,
    first_fit,
    fits,
    free_of,
    idle_for,
    is_booting,
    is_up,
    nodes_of,
    pending_of,
    stuck,
)

IDLE_TIME_S = 1800.0
MAX_BOOTING_NODES = 2
RECONSIDER_JOB_TIME_S = 60.0
EXTRA_SLOTS_FREE = 0
MAX_WAIT_POWERON_S = 300.0


class Clues(Baseline):
    def __init__(self, site: Site) -> None:
        self.max_wait_poweron_s = max(MAX_WAIT_POWERON_S, float(site.policy.boot_timeout_s))
        self.resume_timeout_s = self.max_wait_poweron_s
        self.requested: dict[str, float] = {}  # job id -> time of its last request

    def decide(
        self, observation: Observation, site: Site, now: float, used: Mapping[str, int]
    ) -> list[Action]:
        room = Room.of(observation, site)
        actions: list[Action] = []
        pending_ids = {j.id for j in observation.jobs if not j.running}
        self.requested = {k: t for k, t in self.requested.items() if k in pending_ids}
        for vo in site.vos:
            nodes = nodes_of(observation, vo.name)
            failed = stuck(nodes, now, self.max_wait_poweron_s)
            actions += destroy(failed, "CLUES: not up within MAX_WAIT_POWERON")
            up = [free_of(n, used) for n in nodes if is_up(n)]
            booting = [n.cores for n in nodes if is_booting(n) and n not in failed]
            bins = up + booting
            pending = pending_of(observation, vo.name)
            live = [
                j for j in pending if now - self.requested.get(j.id, -1e18) <= RECONSIDER_JOB_TIME_S
            ]
            book(live, bins)
            held = {j.id for j in live}
            powering = len(booting)
            for job in pending:
                if job.id in held:
                    continue
                if fits(job, bins):  # served (room up) or attended (room booting)
                    book([job], bins)
                    self.requested[job.id] = now
                    continue
                if powering >= MAX_BOOTING_NODES:
                    break
                self.requested[job.id] = now
                for _ in range(first_fit([job], bins, vo.flavor.cores)):
                    boot = room.boot(vo, f"CLUES: power on for request of job {job.id}")
                    if boot is None:
                        break  # NOT_SERVED: reconsidered after RECONSIDER_JOB_TIME
                    actions.append(boot)
                    powering += 1
            idle = [
                n for n in nodes if n.state is NodeState.READY and idle_for(n, now) >= IDLE_TIME_S
            ]
            actions += destroy(idle, f"CLUES: idle for IDLE_TIME {IDLE_TIME_S:.0f} s")
        return actions


def make(site: Site) -> tuple[Clues, Site]:
    return Clues(site), site
