"""Reservations read from the LRM, as elastic reservations: their VO, their size, their life.

Layer: pure (model, config, vomatch). A reservation made in Slurm, SGE or PBS is taken in
as a reservation of the VO its users, accounts or groups map to by the site's ``match``
rules, the same rules that give jobs their VO. Its size is the nodes it names (Slurm,
PBS) or, where the LRM counts slots (SGE), the VO's workers those cores make. The
ledger keeps it like one made with ``elastic reserve``, so its life (preparing, ready,
on time or late) is recorded; one the LRM no longer lists is cancelled. Only a reading
of the LRM may cancel: when the LRM is unread the ledger's copies stand (fail safe: a
reservation that merely went unread must keep its nodes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from elastic.config import VoConfig
from elastic.model import (
    OPEN_RESERVATION_STATES,
    Job,
    LrmReservation,
    Reservation,
    ReservationState,
)
from elastic.vomatch import vo_of


@dataclass(frozen=True)
class Synced:
    """The open reservations to plan on, and the ledger writes (with their words)."""

    reservations: tuple[Reservation, ...]
    writes: tuple[tuple[Reservation, str], ...] = ()
    #: LRM reservations no VO's rule maps (reported, not planned)
    unmatched: tuple[str, ...] = ()


def reservation_vo(lrm: LrmReservation, vos: Sequence[VoConfig]) -> str | None:
    """The first VO whose match rule fits one of the reservation's users, accounts or
    groups (tried in that order)."""
    probes = [Job(id=lrm.name, user=u) for u in lrm.users]
    probes += [Job(id=lrm.name, account=a) for a in lrm.accounts]
    probes += [Job(id=lrm.name, group=g) for g in lrm.groups]
    for probe in probes:
        vo = vo_of(probe, vos)
        if vo is not None:
            return vo
    return None


#: LRMs whose reservations are slots (cores) on whatever hosts serve them, not nodes
SLOT_LRMS = frozenset({"sge"})


def size_of(lrm: LrmReservation, vo: VoConfig, source: str = "") -> int:
    """Workers of ``vo`` the reservation asks for: the nodes it names (Slurm, PBS), or on
    an LRM that reserves slots (SGE) the workers its cores make."""
    slots = math.ceil(lrm.cores / vo.flavor.cores) if lrm.cores else 0
    if source in SLOT_LRMS and slots:
        return slots
    if lrm.nodes or lrm.node_count:
        return max(len(lrm.nodes), lrm.node_count)
    return slots


def sync(
    source: str,
    read: Sequence[LrmReservation] | None,
    stored: Sequence[Reservation],
    vos: Sequence[VoConfig],
    now: float,
) -> Synced:
    """Merge one LRM reading (None: unread) with the ledger's open reservations."""
    by_name = {vo.name: vo for vo in vos}
    mine = {r.id: r for r in stored if r.source == source}
    others = [r for r in stored if r.source != source]
    if read is None:
        return Synced(tuple(stored))
    writes: list[tuple[Reservation, str]] = []
    unmatched: list[str] = []
    current: list[Reservation] = []
    seen: set[str] = set()
    for lrm in read:
        vo_name = reservation_vo(lrm, vos)
        if vo_name is None:
            unmatched.append(lrm.name)
            continue
        rid = f"{source}:{lrm.name}"
        seen.add(rid)
        vo = by_name[vo_name]
        taken = Reservation(
            id=rid,
            vo=vo_name,
            nodes=size_of(lrm, vo, source),
            start=lrm.start,
            end=lrm.end,
            source=source,
            name=lrm.name,
            created_at=now,
            lrm_nodes=lrm.nodes,
        )
        old = mine.get(rid)
        if old is None:
            if taken.end > now and taken.nodes > 0:
                writes.append((taken, f"read from {source}: {taken.nodes} node(s) of {vo_name}"))
                current.append(taken)
            continue
        shape = (taken.vo, taken.nodes, taken.start, taken.end, taken.lrm_nodes)
        if shape != (old.vo, old.nodes, old.start, old.end, old.lrm_nodes):
            changed = replace(
                old,
                vo=taken.vo,
                nodes=taken.nodes,
                start=taken.start,
                end=taken.end,
                lrm_nodes=taken.lrm_nodes,
            )
            writes.append((changed, f"changed in {source}: {changed.nodes} node(s) of {vo_name}"))
            current.append(changed)
        else:
            current.append(old)
    for rid, old in mine.items():
        if rid not in seen and old.state in OPEN_RESERVATION_STATES:
            gone = replace(old, state=ReservationState.CANCELLED, reason=f"gone from {source}")
            writes.append((gone, f"cancelled: {source} no longer lists it"))
    return Synced(tuple([*others, *current]), tuple(writes), tuple(unmatched))
