"""``elastic status`` as text (80 columns) or JSON: the site at a glance.

Layer: presentation (pure: an observation, the site's limits and the last pass's marks
in; strings out). What it shows answers the admin's first questions in order: is elastic
running (the last pass: when, and did it go well), what waits (per VO pending jobs,
cores and the oldest wait; an LRM that could not be read is "queue unknown", never
"queue empty"), what runs (nodes by VO, provider and state), where (each host's free and
used room, reachable or not), what it costs (cloud instances and spend against each
budget) and what is held back (boot backoffs).
"""

from __future__ import annotations

import textwrap
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from elastic.config import Site
from elastic.model import EXISTING_STATES, NodeState, Observation, ProviderKind
from elastic.report import _clip, _iso, table

WIDTH = 80
NO_VO = "(no VO)"


@dataclass(frozen=True)
class LastPass:
    """The last real pass, as the engine's ledger marks keep it."""

    at: float
    degraded: bool
    actions: int
    failed: int


def duration(seconds: float) -> str:
    """``45s``, ``12m 5s``, ``3h 20m``, ``2d 4h``: short enough for a column."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _queue(observation: Observation, now: float | None) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for job in observation.jobs:
        if job.running:
            continue
        vo = job.vo or NO_VO
        row = rows.setdefault(
            vo, {"vo": vo, "pending": 0, "cores": 0, "not_runnable": 0, "oldest_wait_s": None}
        )
        if not job.runnable:
            row["not_runnable"] += job.count
            continue
        row["pending"] += job.count
        row["cores"] += job.count * job.cores  # an instance's cores, over all its nodes
        if now is not None and job.submit_time is not None:
            wait = now - job.submit_time
            row["oldest_wait_s"] = max(wait, row["oldest_wait_s"] or 0.0)
    return [rows[vo] for vo in sorted(rows)]


def _cloud(observation: Observation, site: Site | None) -> list[dict[str, Any]]:
    """Cloud instances and their spend rate per VO and for the site, with the limits."""
    if site is None or site.ec2 is None:
        return []
    instances: Counter[str] = Counter()
    spend: defaultdict[str, float] = defaultdict(float)
    for node in observation.nodes:
        if node.provider is ProviderKind.EC2 and node.state in EXISTING_STATES:
            instances[node.vo] += 1
            spend[node.vo] += node.hourly_cost
    rows = [
        {
            "name": vo.name,
            "instances": instances[vo.name],
            "max_instances": vo.cloud.max_nodes if vo.cloud.allowed else 0,
            "spend_per_h": round(spend[vo.name], 4),
            "budget_per_h": vo.cloud.max_hourly_cost if vo.cloud.allowed else 0.0,
        }
        for vo in site.vos
        if vo.cloud.allowed or instances[vo.name]
    ]
    rows.append(
        {
            "name": "site",
            "instances": sum(instances.values()),
            "max_instances": site.ec2.max_instances,
            "spend_per_h": round(sum(spend.values()), 4),
            "budget_per_h": site.ec2.max_hourly_cost,
        }
    )
    return rows


def status_json(
    observation: Observation,
    errors: Sequence[str],
    *,
    site: Site | None = None,
    last_pass: LastPass | None = None,
    now: float | None = None,
    lrm_error: str | None = None,
) -> dict[str, Any]:
    pending: Counter[str] = Counter()
    held: Counter[str] = Counter()
    for job in observation.jobs:
        if not job.running:
            (pending if job.runnable else held)[job.vo or NO_VO] += job.count
    nodes: Counter[tuple[str, str, str]] = Counter(
        (n.vo, str(n.provider), str(n.state)) for n in observation.nodes
    )
    return {
        "time": now,
        "lrm_read": observation.lrm_ok,
        "queue_unknown": None if observation.lrm_ok else (lrm_error or "the LRM was not read"),
        "lrm_error": lrm_error,
        "errors": list(errors),
        "last_pass": vars(last_pass) if last_pass is not None else None,
        "queue": _queue(observation, now),
        "pending_by_vo": dict(pending),
        "not_runnable_by_vo": dict(held),
        "nodes": [
            {"vo": vo, "provider": p, "state": s, "count": c}
            for (vo, p, s), c in sorted(nodes.items())
        ],
        "hosts": [vars(h) for h in observation.hosts],
        "cloud": _cloud(observation, site),
        "scale_down_ok": observation.scale_down_ok,
        "backoffs": [
            {
                "vo": b.vo,
                "provider": str(b.provider),
                "target": b.location,
                "failures": b.failures,
                "until": b.until,
                "last_error": b.last_error,
            }
            for b in observation.backoffs
        ],
    }


def _wrap(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]


def _host_error(error: str) -> bool:
    """An observation error about one libvirt host (``Engine.observe``'s wording)."""
    return error.startswith("libvirt host ") and " unreachable: " in error


def _last_pass_line(last: dict[str, Any] | None, now: float | None) -> str:
    if last is None:
        return "last pass: none recorded in the ledger (no run-once or daemon pass yet)"
    ago = f" ({duration(now - last['at'])} ago)" if now is not None else ""
    result = "DEGRADED" if last["degraded"] else "ok"
    return (
        f"last pass: {_iso(last['at'])}{ago}: {result}, {last['actions']} action(s), "
        f"{last['failed']} failed"
    )


def _queue_lines(data: dict[str, Any]) -> list[str]:
    if data["queue_unknown"] is not None:
        return _wrap(f"queue unknown: {data['queue_unknown']}")
    lines = []
    if data["lrm_error"]:  # read before, within lrm_grace_s: say how old it is
        lines += _wrap(f"LRM not read now ({data['lrm_error']}); its last good reading:")
    if not data["queue"]:
        return [*lines, "queue empty: no pending job"]
    rows = [
        [
            _clip(q["vo"], 24),
            q["pending"],
            q["cores"],
            duration(q["oldest_wait_s"]) if q["oldest_wait_s"] is not None else "-",
            q["not_runnable"],
        ]
        for q in data["queue"]
    ]
    return [*lines, table(["VO", "PENDING", "CORES", "OLDEST WAIT", "NOT RUNNABLE"], rows)]


def _node_lines(data: dict[str, Any]) -> list[str]:
    if not data["nodes"]:
        return ["no nodes"]
    by: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for n in data["nodes"]:
        by[(n["vo"], n["provider"])][n["state"]] += n["count"]
    order = [s.value for s in NodeState]
    rows = []
    for (vo, provider), states in sorted(by.items()):
        words = ", ".join(f"{states[s]} {s}" for s in order if states[s])
        rows.append([_clip(vo, 24), provider, sum(states.values()), _clip(words, 38)])
    return [table(["NODES OF VO", "PROVIDER", "COUNT", "STATES"], rows)]


def _host_lines(data: dict[str, Any]) -> list[str]:
    if not data["hosts"]:
        return []
    rows, notes = [], []
    for h in data["hosts"]:
        if not h["reachable"]:
            rows.append([_clip(h["name"], 24), "UNREACHABLE", "?", "?", "?", "?"])
            notes += _wrap(f"{h['name']} UNREACHABLE: {h['error']}")
            continue
        rows.append(
            [
                _clip(h["name"], 24),
                "reachable",
                h["cores_free"],
                h["cores_total"] - h["cores_free"],
                h["memory_mb_free"],
                h["memory_mb_total"] - h["memory_mb_free"],
            ]
        )
    headers = ["HOST", "STATE", "FREE CORES", "USED", "FREE MB", "USED MB"]
    return ["", table(headers, rows), *notes]


def _cloud_lines(data: dict[str, Any]) -> list[str]:
    if not data["cloud"]:
        return []
    rows = []
    for c in data["cloud"]:
        limit = c["max_instances"]
        budget = c["budget_per_h"]
        use = f"{100 * c['spend_per_h'] / budget:.0f}%" if budget else "-"
        rows.append(
            [
                _clip(c["name"], 24),
                f"{c['instances']}/{limit}" if limit else str(c["instances"]),
                f"{c['spend_per_h']:.2f}",
                f"{budget:.2f}" if budget else "none",
                use,
            ]
        )
    headers = ["CLOUD", "INSTANCES", "SPEND $/H", "BUDGET $/H", "OF BUDGET"]
    return ["", table(headers, rows)]


def _backoff_lines(data: dict[str, Any], now: float | None) -> list[str]:
    lines = []
    for b in data["backoffs"]:
        until = f"in {duration(b['until'] - now)}" if now is not None else _iso(b["until"])
        lines += _wrap(
            f"backoff {b['vo']} on {b['provider']} {b['target']}: {b['failures']} failure(s), "
            f"next try {until}: {b['last_error'] or '-'}"
        )
    return ["", *lines] if lines else []


def status_text(
    observation: Observation,
    errors: Sequence[str],
    *,
    site: Site | None = None,
    last_pass: LastPass | None = None,
    now: float | None = None,
    lrm_error: str | None = None,
) -> str:
    """At most 80 columns wide: long words (a VO or host name, an error) are clipped or
    wrapped, never let to widen a table past the terminal."""
    data = status_json(
        observation, errors, site=site, last_pass=last_pass, now=now, lrm_error=lrm_error
    )
    name = f"site {site.site.name}" if site is not None else "site"
    head = f"elastic status: {name}" + (f" at {_iso(now)}" if now is not None else "")
    lines = [head, _last_pass_line(data["last_pass"], now)]
    shown = {lrm_error} if lrm_error else set()
    for error in errors:
        if error not in shown and not _host_error(error):  # the hosts' lines say those
            lines += _wrap(f"error: {error}")
    if not data["scale_down_ok"]:
        lines.append("scale-down held: the LRM's reading is not trusted this pass")
    lines += ["", *_queue_lines(data), "", *_node_lines(data)]
    lines += _host_lines(data) + _cloud_lines(data) + _backoff_lines(data, now)
    return "\n".join(line[:WIDTH] for line in "\n".join(lines).splitlines())
