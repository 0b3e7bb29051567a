"""A ``join: power_save`` Slurm site: Slurm serves the queue, elastic readies reservations.

Layer: pure. On such a site Slurm decides when a ``State=CLOUD`` node is needed and calls
elastic's ResumeProgram (``elastic slurm-resume``), which places and boots it within every
limit (``planning.resume``). A pass therefore plans no queue boots and retires nothing
(Slurm's SuspendProgram does). What Slurm does not do is power a reservation's nodes up
before its jobs arrive: a pass asks for that, from the reservation's start minus the lead
until its start, for each node the reservation names that is not already booting or up,
at most ``max_boots_per_pass`` a pass; Slurm's ResumeProgram then boots each as it would
for a job. From the start Slurm allocates the reservation's jobs and powers up for them.
"""

from __future__ import annotations

from elastic.config import Site, SlurmOptions
from elastic.model import CAPACITY_STATES, PowerUp, VoDecision
from elastic.planning.capacity import VoCapacity
from elastic.planning.state import View

NOTE = (
    "Slurm power_save: Slurm's ResumeProgram boots nodes for the queue; a pass powers up "
    "reservations' nodes ahead of their start"
)


def is_power_save(site: Site) -> bool:
    return site.lrm.kind == "slurm" and site.lrm_options(SlurmOptions).join == "power_save"


def power_up_reserved(view: View) -> list[PowerUp]:
    """Power-ups for the named nodes of due reservations that no live node holds yet."""
    up = {n.id for n in view.live if n.state in CAPACITY_STATES}
    budget = view.site.policy.max_boots_per_pass
    actions: list[PowerUp] = []
    for vo, due in sorted(view.reserved.items()):
        for r in due:
            if view.now >= r.start:
                continue  # from its start Slurm allocates, and powers up, for its jobs
            for name in r.lrm_nodes:
                if name in up or len(actions) >= budget:
                    continue
                up.add(name)
                label = r.name or r.id
                why = f"reservation {label} of {vo} starts in {r.start - view.now:.0f} s"
                actions.append(PowerUp(name, vo, f"{why}: powered up ahead of its jobs"))
    return actions


def decisions(view: View) -> tuple[VoDecision, ...]:
    """Each VO's queue and nodes as seen; nothing is decided for the queue here."""
    return tuple(
        VoDecision(
            vo.name,
            view.demand.by_vo[vo.name].pending_jobs,
            view.demand.by_vo[vo.name].nodes_needed,
            VoCapacity.of(view.nodes(vo.name)).alive,
            0,
            0,
            0,
            0,
        )
        for vo in view.site.vos
    )
