"""Which VO a job belongs to, by the site's ``match`` rules.

Layer: pure (imports model and config). A job's VO is decided once, in observation:
LRM adapters return jobs with their raw attributes and ``vo=None`` (they may not import
this module, an import contract says so), and the engine labels the reading
(``label_snapshot``) as it takes it. The first VO whose rule matches wins, in site.yaml
order, so an admin can put narrow rules first; ``match_vo`` also says which rule matched
(``match.account=atlas``), for ``elastic explain``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from elastic.config import MatchRule, VoConfig
from elastic.model import Job, QueueSnapshot

#: the job attributes a rule may name, in the order they are tried
FIELDS = ("user", "group", "project", "account", "queue")


def matching_rule(rule: MatchRule, job: Job) -> str | None:
    """The first pattern of ``rule`` the job matches, as ``match.<field>=<pattern>`` (with
    the job's value when the pattern is a wildcard), or None."""
    candidates = [(f, getattr(rule, f), getattr(job, f)) for f in FIELDS]
    candidates += [("feature", rule.feature, feature) for feature in job.features]
    for name, patterns, value in candidates:
        if value is None:
            continue
        for pattern in patterns:
            if fnmatchcase(value, pattern):
                shown = "" if pattern == value else f" ({name} {value})"
                return f"match.{name}={pattern}{shown}"
    return None


def match_vo(job: Job, vos: Sequence[VoConfig]) -> tuple[str | None, str]:
    """The job's VO and why: ``("atlas", "match.account=atlas")``, or ``(None, "no VO's
    match rule fits")`` with the attributes that were tried."""
    for vo in vos:
        rule = matching_rule(vo.match, job)
        if rule is not None:
            return vo.name, rule
    tried = [f"{f} {getattr(job, f)}" for f in FIELDS if getattr(job, f) is not None]
    tried += [f"feature {feature}" for feature in job.features]
    return None, f"no VO's match rule fits ({', '.join(tried) or 'no attributes'})"


def vo_of(job: Job, vos: Sequence[VoConfig]) -> str | None:
    return match_vo(job, vos)[0]


def label(job: Job, vos: Sequence[VoConfig]) -> Job:
    """The job with ``vo`` set (or left None when no rule matches)."""
    vo = vo_of(job, vos)
    return job if vo == job.vo else replace(job, vo=vo)


def label_snapshot(snapshot: QueueSnapshot, vos: Sequence[VoConfig]) -> QueueSnapshot:
    """A reading with every job labelled: what the engine does once per observation."""
    return replace(snapshot, jobs=tuple(label(job, vos) for job in snapshot.jobs))
