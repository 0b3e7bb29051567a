"""The decision: from one observation, the actions of one pass, each with its reason.

Layer: pure. Imports only ``elastic.model`` and ``elastic.config`` (an import-linter
contract in the test command keeps it so). No I/O and no clock: ``now`` is an argument,
so any decision can be replayed in a test or the simulator at any instant.

``plan()`` is the list of named steps below; each is ``rule(state, view)`` in its own
module, and every want a rule cannot meet is recorded where it was decided, with the
limit that bound and its figures (``reasons.py``):

1. if the LRM was not read, do nothing at all (no demand to trust, and nothing may be
   retired on a state we could not see);
2. destroy drained, failed and never-joined nodes that provably run nothing
   (``scale_down``);
3. boot what reservations inside their lead time lack, before any queue demand, set
   local room aside for those about to enter it, and drain queue workers whose jobs end
   before the lead where free room falls short (``reserve``);
4. per VO, nodes needed by pending runnable jobs, less nodes booting or idle, raised to
   its floor (``min_nodes``, or its due reservations) and capped by ``max_nodes``
   (``scale_up.want``); a VO whose boots back off waits;
5. local hosts by share; what finds no local room may take the room of another VO's idle
   workers (``reclaim``); the rest goes to EC2 within every limit, once its jobs have
   waited ``cloud_burst_after_s`` and unless running jobs' walltimes free the cores
   sooner than a cloud boot; at most ``max_boots_per_pass`` boots in all;
6. drain idle cloud workers at once when local room could hold a worker of their VO
   (``repatriate``): a local boot is free;
7. drain idle nodes past their timeout that the demand does not need (``scale_down``).
"""

from __future__ import annotations

from collections import Counter

from elastic.config import Site
from elastic.model import Action, Boot, Observation, Plan, ProviderKind, VoDecision
from elastic.planning import power_save, reasons
from elastic.planning.capacity import VoCapacity
from elastic.planning.power_save import NOTE, is_power_save, power_up_reserved
from elastic.planning.recall import recall, recallable
from elastic.planning.reclaim import reclaim_idle
from elastic.planning.repatriate import repatriate
from elastic.planning.reserve import drain_ahead, place_reserved, set_aside_for_coming
from elastic.planning.scale_down import overdue_drains, plan_destroys, retire
from elastic.planning.scale_up import (
    boots_for,
    hold_backed_off,
    hold_for_local_soon,
    hold_for_unreadable_hosts,
    place_cloud,
    place_local,
    want,
)
from elastic.planning.state import PassState, View

__all__ = ["plan"]


def plan(observation: Observation, site: Site, now: float) -> Plan:
    """The actions of this pass, each with its reason, and per VO why it got what it got."""
    view = View.of(observation, site, now)
    if not observation.lrm_ok:
        return _unread(view)
    if is_power_save(site):  # Slurm serves the queue; elastic readies reservations
        ups = power_up_reserved(view)
        return Plan(tuple(ups), view.demand.unplaceable, power_save.decisions(view), (NOTE,))
    state = PassState.start(view)
    notes: list[str] = []
    destroys = plan_destroys(view.live, site, now) if view.scale_down else []
    leaving = {d.node_id for d in destroys}
    state.taken |= leaving
    early = place_reserved(state, view, leaving)
    early += drain_ahead(state, view, set_aside_for_coming(state, view))
    state.recallable = recallable(view, leaving)
    want(state, view, leaving)
    hold_backed_off(state, view)
    place_local(state, view)
    if observation.local_ok and site.policy.reclaim_idle and view.scale_down:
        early += reclaim_idle(state, view)
    hold_for_unreadable_hosts(state, view)
    recalled = recall(state, view)
    if observation.cloud_ok:
        hold_for_local_soon(state, view)
    place_cloud(state, view)
    state.close()
    if observation.local_ok and site.policy.repatriate_cloud and view.scale_down:
        early += repatriate(state, view)
    actions: list[Action] = [*boots_for(site, state.placements, observation.next_serial)]
    actions += destroys
    actions += recalled
    actions += early
    actions += retire(state, view)
    if not view.scale_down:
        notes.append("the LRM reading is not trusted: no drains or destroys this pass")
    if not observation.local_ok:
        notes.append("local hypervisors could not be read: no local boots this pass")
    if not observation.cloud_ok:
        notes.append("EC2 could not be read: no cloud boots this pass")
    notes += overdue_drains(view.live, site, now)
    decisions = tuple(_decision(state, view, vo.name, actions) for vo in site.vos)
    return Plan(tuple(actions), view.demand.unplaceable, decisions, tuple(notes))


def _decision(state: PassState, view: View, vo: str, actions: list[Action]) -> VoDecision:
    mine = [a for a in actions if a.vo == vo]
    boots = Counter(a.provider for a in mine if isinstance(a, Boot))
    demand = view.demand.by_vo[vo]
    return VoDecision(
        vo=vo,
        pending_jobs=demand.pending_jobs,
        nodes_needed=demand.nodes_needed,
        nodes_alive=VoCapacity.of(view.nodes(vo)).alive,
        boots_local=boots[ProviderKind.LIBVIRT],
        boots_cloud=boots[ProviderKind.EC2],
        drains=sum(1 for a in mine if a.kind == "drain"),
        destroys=sum(1 for a in mine if a.kind == "destroy"),
        covered=state.covered.get(vo, 0),
        wanted=state.wanted.get(vo, 0),
        reclaimed=state.reclaimed.get(vo, 0),
        short=tuple(state.short.get(vo, ())),
        kept=tuple(state.kept.get(vo, ())),
        reserved=state.reserved.get(vo, 0),
        at_risk=tuple(state.at_risk.get(vo, ())),
    )


def _unread(view: View) -> Plan:
    hold = reasons.lrm_unread()
    decisions = tuple(
        VoDecision(vo.name, 0, 0, VoCapacity.of(view.nodes(vo.name)).alive, 0, 0, 0, 0, hold=hold)
        for vo in view.site.vos
    )
    note = "the LRM could not be read: no boots, drains or destroys this pass"
    return Plan(decisions=decisions, notes=(note,))
