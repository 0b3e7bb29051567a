"""``elastic explain``: why a VO got what it got, and what became of one job.

Layer: presentation (pure: an observation, the plan made from it and the site in;
dataclasses, words and JSON out). Nothing here decides: the plan is the one the engine's
``plan()`` made from a fresh observation, so the explanation is the decision itself,
never a second guess. Lines stay within 80 columns.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from elastic.config import Site
from elastic.model import Action, Job, NodeState, Observation, Plan, VoDecision
from elastic.planning.capacity import UPCOMING_STATES
from elastic.planning.reservations import describe_reservation
from elastic.report import decision_json
from elastic.vomatch import match_vo

WIDTH = 80
#: states a VO's node is counted in by its own name (besides booting, idle and busy)
LEAVING_STATES = frozenset(
    {NodeState.DRAINING, NodeState.RETIRING, NodeState.FAILED, NodeState.ORPHAN}
)


@dataclass(frozen=True)
class VoExplanation:
    vo: str
    decision: VoDecision
    flavor: str
    shapes: dict[str, int]  # "4 cores/1000 MB" -> instances
    nodes: dict[str, int]  # booting / idle / busy / leaving -> count
    not_demand: dict[str, int]  # why pending jobs are not demand -> instances
    actions: tuple[Action, ...]
    #: the VO's open reservations, in words (state, window, nodes)
    reservations: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        d = self.decision
        out = [f"VO {self.vo} (workers of {self.flavor})"]
        if d.hold is not None:
            out.append(f"  {d.hold.text}")
            return out
        shapes = ", ".join(f"{n} x {shape}" for shape, n in self.shapes.items()) or "none"
        out.append(f"  pending demand: {d.pending_jobs} job(s): {shapes}")
        out.append(f"  needs {d.nodes_needed} node(s); covered by booting or idle: {d.covered}")
        held = ", ".join(f"{n} {what}" for what, n in self.nodes.items() if n) or "none"
        out.append(f"  nodes: {d.nodes_alive} alive ({held})")
        booted = d.boots_local + d.boots_cloud
        out.append(
            f"  wants {d.wanted} new: {d.boots_local} local, {d.boots_cloud} cloud"
            + (f", {d.reclaimed} wait for reclaimed room" if d.reclaimed else "")
            + (f", {d.short_count} short" if d.short else "")
            + ("" if d.wanted or booted else " (nothing to boot)")
        )
        for short in d.short:
            out += _wrap(f"- {short.words()}", "    ")
        for line in self.reservations:
            out += _wrap(f"reservation {line}", "  ")
        if d.reserved:
            out.append(f"  of the boots, {d.reserved} for reservations (not queue demand)")
        for short in d.at_risk:
            out += _wrap(f"- reservation node(s) at risk: {short.words()}", "    ")
        grouped: dict[tuple[str, str], list[str]] = {}
        for action in self.actions:
            grouped.setdefault((action.kind, action.reason), []).append(action.node_id)
        for (kind, reason), ids in grouped.items():
            who = ids[0] if len(ids) == 1 else f"{len(ids)} nodes ({ids[0]} .. {ids[-1]})"
            out += _wrap(f"- {kind} {who}: {reason}", "    ")
        for kept in d.kept:
            out += _wrap(f"- kept {kept.node_id}: {kept.reason.text}", "    ")
        for why, count in self.not_demand.items():
            out += _wrap(f"- not demand: {count} job(s) {why}", "    ")
        return out

    def json(self) -> dict[str, Any]:
        return {
            "vo": self.vo,
            "flavor": self.flavor,
            "decision": decision_json(self.decision),
            "shapes": self.shapes,
            "nodes": self.nodes,
            "not_demand": self.not_demand,
            "reservations": list(self.reservations),
            "actions": [
                {"kind": a.kind, "node": a.node_id, "reason": a.reason} for a in self.actions
            ],
        }


@dataclass(frozen=True)
class JobExplanation:
    job_id: str
    found: bool
    vo: str | None = None
    rule: str = ""
    demand: bool = False
    why_not: str = ""
    vo_explanation: VoExplanation | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        if not self.found:
            return [f"job {self.job_id}: not in the LRM's reading (finished, or a wrong id)"]
        attrs = ", ".join(f"{k} {v}" for k, v in self.attributes.items())
        out = _wrap(f"job {self.job_id} ({attrs})", "")
        out += _wrap(f"  VO: {self.vo or 'none'}, by {self.rule}", "    ")
        if self.demand:
            out.append(f"  demand: yes, it counts in VO {self.vo}'s pending demand")
        else:
            out += _wrap(f"  demand: no, {self.why_not}", "    ")
        if self.vo_explanation is not None:
            out += ["", *self.vo_explanation.lines()]
        return out

    def json(self) -> dict[str, Any]:
        return {
            "job": self.job_id,
            "found": self.found,
            "vo": self.vo,
            "rule": self.rule,
            "demand": self.demand,
            "why_not": self.why_not,
            "attributes": self.attributes,
            "vo_explanation": self.vo_explanation.json() if self.vo_explanation else None,
        }


def _wrap(text: str, indent: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent + "  ", initial_indent=indent)


def explain_vo(
    vo: str, observation: Observation, decided: Plan, site: Site, now: float
) -> VoExplanation:
    config = site.vo(vo)
    decision = next(d for d in decided.decisions if d.vo == vo)
    shapes: Counter[str] = Counter()
    not_demand: Counter[str] = Counter()
    too_big = _too_big(decided)
    for job in observation.jobs:
        if job.vo != vo or job.running:
            continue
        why = _not_demand(job, too_big)
        if why is None:
            shapes[f"{job.cores_per_node} cores/{job.memory_mb_per_node} MB"] += job.count
        else:
            not_demand[why] += job.count
    nodes: Counter[str] = Counter()
    for node in observation.nodes:
        if node.vo != vo:
            continue
        if node.state in UPCOMING_STATES:
            nodes["booting"] += 1
        elif node.idle:
            nodes["idle"] += 1
        elif node.state is NodeState.READY:
            nodes["busy"] += 1
        elif node.state in LEAVING_STATES:
            nodes[node.state.value] += 1
    flavor = f"{config.flavor.cores} cores/{config.flavor.memory_mb} MB"
    actions = tuple(a for a in decided.actions if a.vo == vo)
    booked = tuple(
        f"{r.name or r.id} [{r.source}]: {describe_reservation(r, now)}"
        for r in observation.reservations
        if r.vo == vo
    )
    return VoExplanation(
        vo, decision, flavor, dict(shapes), dict(nodes), dict(not_demand), actions, booked
    )


def _too_big(decided: Plan) -> dict[str, str]:
    """Job id -> why the plan left it out of demand (``Plan.unplaceable``)."""
    return {u.job_id: u.reason for u in decided.unplaceable}


def _not_demand(job: Job, too_big: dict[str, str]) -> str | None:
    """Why a pending job of a known VO is not demand, or None when it is: held, or
    one the plan found too big for its VO's flavor."""
    if not job.runnable:
        return f"held by the LRM ({job.reason})" if job.reason else "held by the LRM"
    return f"too big: {too_big[job.id]}" if job.id in too_big else None


def explain_job(
    job_id: str, observation: Observation, decided: Plan, site: Site, now: float
) -> JobExplanation:
    job = next((j for j in observation.jobs if j.id == job_id), None)
    if job is None:
        return JobExplanation(job_id, found=False)
    vo, rule = match_vo(job, site.vos)
    fields = ("user", "group", "project", "account", "queue")
    attributes = {f: str(getattr(job, f)) for f in fields if getattr(job, f) is not None}
    attributes["size"] = f"{job.count} x {job.cores} cores/{job.memory_mb} MB"
    if job.nodes > 1:
        attributes["size"] += f" on {job.nodes} hosts"
    if vo is None:
        why = "it maps to no VO, so no VO's workers can run it"
        return JobExplanation(job_id, True, None, rule, False, why, None, attributes)
    why = "it is running already" if job.running else _not_demand(job, _too_big(decided)) or ""
    vo_explanation = explain_vo(vo, observation, decided, site, now)
    return JobExplanation(job_id, True, vo, rule, not why, why, vo_explanation, attributes)
