"""Plans, nodes and queues as text tables or JSON, for the CLI.

Layer: presentation (pure: data in, strings out). Secrets never reach these
structures: actions carry reasons, not user-data.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from elastic.model import NodeRecord, NodeState, Plan, Reason, Short, VoDecision

if TYPE_CHECKING:  # a type only: presentation does not load the ledger (SQLAlchemy)
    from elastic.ledger import Event


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def plan_rows(plan: Plan) -> list[list[object]]:
    rows: list[list[object]] = []
    for action in plan.actions:
        where = getattr(action, "location", "")
        provider = getattr(action, "provider", "")
        rows.append([action.kind, action.node_id, action.vo, provider, where, action.reason])
    return rows


def plan_text(plan: Plan) -> str:
    parts = []
    if plan.actions:
        headers = ["ACTION", "NODE", "VO", "PROVIDER", "WHERE", "REASON"]
        parts.append(table(headers, plan_rows(plan)))
    else:
        parts.append("no actions: nothing to boot, drain or destroy")
    parts.append("")
    parts.extend(f"decision {d.summary()}" for d in plan.decisions)
    parts.extend(f"note: {n}" for n in plan.notes)
    parts.extend(
        f"unplaceable: job {u.job_id} x{u.count} ({u.vo or 'no VO'}): {u.reason}"
        for u in plan.unplaceable
    )
    return "\n".join(parts)


def reason_json(reason: Reason) -> dict[str, Any]:
    return {"cause": str(reason.cause), "text": reason.text, **reason.figures}


def short_json(short: Short) -> dict[str, Any]:
    also = reason_json(short.also) if short.also is not None else None
    return {"count": short.count, **reason_json(short.reason), "also": also}


def decision_json(decision: VoDecision) -> dict[str, Any]:
    skip = {"short", "kept", "hold", "at_risk"}
    data = {k: v for k, v in vars(decision).items() if k not in skip}
    data["short"] = [short_json(s) for s in decision.short]
    data["at_risk"] = [short_json(s) for s in decision.at_risk]
    data["kept"] = [{"node": k.node_id, **reason_json(k.reason)} for k in decision.kept]
    data["hold"] = reason_json(decision.hold) if decision.hold is not None else None
    return data


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "actions": [
            {k: str(v) if not isinstance(v, int | float) else v for k, v in vars(a).items()}
            | {"kind": a.kind}
            for a in plan.actions
        ],
        "decisions": [decision_json(d) for d in plan.decisions],
        "unplaceable": [vars(u) for u in plan.unplaceable],
        "notes": list(plan.notes),
    }


#: states whose reason alone may hide why the node got there (see ``node_cause``)
CAUSE_STATES = frozenset({NodeState.FAILED, NodeState.RETIRING, NodeState.GONE})


def _is_failure(kind: str) -> bool:
    """A FAILED state's event, or an action that failed (drain-failed, destroy-failed…)."""
    return kind == NodeState.FAILED.value or kind.endswith("-failed")


def node_cause(node: NodeRecord, events: Sequence[Event]) -> str:
    """Why a node is in its state, from its record and its events (oldest first).

    A FAILED node: the reason stored with that state (the provider's or the LRM's
    error, or what reconcile found), plus a later action's failure. A node retiring or
    gone: what came just before its retirement when that was a failure or a reconcile
    finding (a boot error, a VM vanished or ended, dark past its timeout, an admin's
    drain), not the destroy's "failed and empty"; else a failed action's error, else
    its reason. Events from before the node's record (a reused name) are ignored.
    """
    mine = [e for e in events if e.at >= node.created_at]
    if node.state is NodeState.FAILED:
        later = [e for e in mine if e.at >= node.state_since and e.kind.endswith("-failed")]
        return node.reason + (f"; then {later[-1].kind}: {later[-1].message}" if later else "")
    if node.state not in CAUSE_STATES:
        return node.reason
    retired = next((i for i, e in enumerate(mine) if e.kind == "retiring"), len(mine))
    before = mine[:retired]
    if before and (_is_failure(before[-1].kind) or before[-1].kind == "reconcile"):
        return before[-1].message
    failures = [e for e in mine if _is_failure(e.kind)]
    return f"{failures[-1].kind}: {failures[-1].message}" if failures else node.reason


def node_rows(
    nodes: Sequence[NodeRecord], causes: Mapping[str, str] | None = None
) -> list[list[object]]:
    causes = causes or {}
    return [
        [
            n.id,
            n.vo,
            n.provider,
            n.location,
            n.instance_id or "-",
            n.state,
            _clip(causes.get(n.id, n.reason), 60),
        ]
        for n in nodes
    ]


def nodes_text(nodes: Sequence[NodeRecord], causes: Mapping[str, str] | None = None) -> str:
    """The nodes table; ``causes`` (node id -> ``node_cause``) replaces a node's reason."""
    if not nodes:
        return "no nodes"
    headers = ["NODE", "VO", "PROVIDER", "WHERE", "INSTANCE", "STATE", "REASON"]
    return table(headers, node_rows(nodes, causes))


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def event_text(event: Event, width: int = 80) -> str:
    """One event as ``time  node  kind: message``, the message wrapped to ``width``
    columns (continued lines indented); site-wide events show ``-`` as their node."""
    head = f"{_iso(event.at)}  {event.node_id or '-'}  {event.kind}: "
    return textwrap.fill(
        event.message or "-",
        width=width,
        initial_indent=head,
        subsequent_indent="    ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def events_text(events: Sequence[Event]) -> str:
    return "\n".join(event_text(e) for e in events) if events else "no events"


def event_json(event: Event) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at,
        "time": _iso(event.at),
        "node": event.node_id,
        "kind": event.kind,
        "message": event.message,
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(data: object) -> str:
    return json.dumps(data, indent=2, sort_keys=True, default=str)
