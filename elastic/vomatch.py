"""Which VO a job belongs to, by the site's ``match`` rules.

Layer: pure (imports model and config). Adapters call it while parsing so
that every job leaves ``snapshot()`` already labelled; the first VO whose rule
matches wins, in site.yaml order, so an admin can put narrow rules first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase

from elastic.config import MatchRule, VoConfig
from elastic.model import Job


def _any(patterns: list[str], value: str | None) -> bool:
    return value is not None and any(fnmatchcase(value, p) for p in patterns)


def matches(rule: MatchRule, job: Job) -> bool:
    return (
        _any(rule.user, job.user)
        or _any(rule.group, job.group)
        or _any(rule.project, job.project)
        or _any(rule.account, job.account)
        or _any(rule.queue, job.queue)
        or any(_any(rule.feature, feature) for feature in job.features)
    )


def vo_of(job: Job, vos: Sequence[VoConfig]) -> str | None:
    for vo in vos:
        if matches(vo.match, job):
            return vo.name
    return None


def label(job: Job, vos: Sequence[VoConfig]) -> Job:
    """The job with ``vo`` set (or left None when no rule matches)."""
    vo = vo_of(job, vos)
    return job if vo == job.vo else replace(job, vo=vo)
