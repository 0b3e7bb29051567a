"""Is a valid LRM reading believable? Nodes that vanish at once, jobs that drop to none.

Layer: pure (imports model, config and the ledger's record type). A qmaster that
lost its spool answers with exit 0, no hosts and no jobs; a ``qhost`` that returns
nothing while ``qstat`` still lists jobs is well-formed XML. Acting on either
destroyed a node that ran a job. A reading that suddenly lists far fewer of the
nodes elastic has seen up, or no running job where the last reading had many, is
reported and holds every scale-down, until the condition has lasted
``policy.lrm_vanish_grace_s``; after that the missing nodes are dark nodes
(``reconcile``), retired by ``dark_timeout_s``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from elastic.config import Policy
from elastic.model import NodeRecord, NodeState, QueueSnapshot

#: ledger states of nodes the LRM has listed as up
SEEN = frozenset({NodeState.READY, NodeState.DRAINING})


@dataclass(frozen=True)
class Plausibility:
    registered: int
    vanished: tuple[str, ...] = ()
    running_before: int = 0
    running_now: int = 0
    jobs_dropped: bool = False

    @property
    def implausible(self) -> bool:
        return bool(self.vanished) or self.jobs_dropped

    def message(self) -> str:
        parts = []
        if self.vanished:
            shown = ", ".join(self.vanished[:10]) + (" …" if len(self.vanished) > 10 else "")
            parts.append(
                f"{len(self.vanished)} of {self.registered} registered node(s) vanished "
                f"from the LRM's listing ({shown})"
            )
        if self.jobs_dropped:
            parts.append(f"running jobs dropped from {self.running_before} to {self.running_now}")
        return "; ".join(parts)


def running_jobs(snapshot: QueueSnapshot) -> int:
    return sum(j.count for j in snapshot.jobs if j.running)


def check_reading(
    snapshot: QueueSnapshot,
    records: Sequence[NodeRecord],
    running_before: float | None,
    policy: Policy,
) -> Plausibility:
    """Compare a reading with what the ledger knows was there."""
    registered = [r.id for r in records if r.state in SEEN]
    listed = {n.name for n in snapshot.nodes}
    missing = tuple(n for n in registered if n not in listed)
    threshold = max(
        policy.lrm_vanish_min_nodes, math.ceil(policy.lrm_vanish_fraction * len(registered))
    )
    vanished = missing if registered and len(missing) >= threshold else ()
    now = running_jobs(snapshot)
    before = int(running_before or 0)
    # a queue that is suddenly empty, running and pending alike, is what a qmaster that
    # lost its spool answers; jobs that end while others wait are an ordinary reading
    empty = now == 0 and not snapshot.jobs
    dropped = before >= policy.lrm_vanish_min_jobs and empty
    return Plausibility(len(registered), vanished, before, now, dropped)
