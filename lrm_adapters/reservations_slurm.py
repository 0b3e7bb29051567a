"""Slurm advance reservations to ``LrmReservation``: ``scontrol show reservation`` text and JSON.

Layer: pure parsing (imports the model and the other Slurm parsers' helpers only). The
text form (``--oneliner``, or the multi-line form: every release) prints times in the
controller's local time zone as ``2026-12-01T21:05:09`` (or epoch seconds where
``SLURM_TIME_FORMAT=%s``), read as this host's local time like every Slurm stamp here;
the JSON form (23.02 and later, the same data_parser shapes as slurmrestd) gives epoch
seconds. No reservations is a sentence in text and an empty list in JSON; anything else
that is not a whole reservation listing is an ``LRMParseError``: a reading that lost its
reservations must never look like one with none, or reserved nodes could be retired.
User, account and group lists are kept as Slurm prints them (``-bob`` denies bob).
"""

from __future__ import annotations

import math
from typing import Any

from elastic.model import LrmReservation
from lrm_adapters._numbers import whole
from lrm_adapters._times import epoch
from lrm_adapters.base import LRMParseError
from lrm_adapters.slurm_parse import expand_hostlist, load, number, records
from lrm_adapters.slurm_text import Record
from lrm_adapters.slurm_text import records as text_records

NO_RESERVATIONS = "No reservations in the system"
#: keys every record of ``scontrol show reservation`` has; one missing means cut short
TEXT_KEYS = ("ReservationName", "StartTime", "EndTime", "Nodes", "NodeCnt", "State")
TEXT = "scontrol show reservation"
JSON = "scontrol show reservation --json"


def _words(value: Any) -> tuple[str, ...]:
    """A comma list (``root,nobody``), or a JSON list of them; ``(null)`` is none."""
    if isinstance(value, list):
        items = [str(v) for v in value]
    elif value is None or isinstance(value, str):
        items = (value or "").split(",")
    else:
        raise LRMParseError(f"{JSON}: a list field is {type(value).__name__}")
    words = (w.strip() for w in items)
    return tuple(dict.fromkeys(w for w in words if w and w != "(null)"))  # "bparks,bparks"


def _checked(reservation: LrmReservation, what: str) -> LrmReservation:
    """The reservation if it holds together: a name, an end after its start, and as many
    node names as Slurm counts (a garbled host list rarely keeps its count)."""
    if not reservation.name:
        raise LRMParseError(f"{what}: a reservation without a name")
    if not reservation.end >= reservation.start:
        raise LRMParseError(f"{what}: {reservation.name} ends before it starts")
    if reservation.nodes and len(reservation.nodes) != reservation.node_count:
        raise LRMParseError(
            f"{what}: {reservation.name} names {len(reservation.nodes)} nodes "
            f"but counts {reservation.node_count}"
        )
    return reservation


def _stamp(record: Record, key: str) -> float:
    value = epoch(record[key])
    if value is None:
        raise LRMParseError(f"{TEXT}: {record['ReservationName']} {key}={record[key][:40]!r}")
    return value


def _from_text(record: Record) -> LrmReservation:
    missing = [k for k in TEXT_KEYS if k not in record]
    if missing:
        raise LRMParseError(f"{TEXT}: a record without {', '.join(missing)} (cut short?)")
    nodes = record["Nodes"]
    partition = record.get("PartitionName", "")
    return _checked(
        LrmReservation(
            name=record["ReservationName"],
            start=_stamp(record, "StartTime"),
            end=_stamp(record, "EndTime"),
            nodes=() if nodes == "(null)" else tuple(expand_hostlist(nodes)),
            node_count=whole(record["NodeCnt"], f"{TEXT} NodeCnt"),
            cores=whole(record.get("CoreCnt"), f"{TEXT} CoreCnt"),
            users=_words(record.get("Users")),
            accounts=_words(record.get("Accounts")),
            groups=_words(record.get("Groups")),
            partition="" if partition == "(null)" else partition,
            state=record["State"],
            flags=_words(record.get("Flags")),
        ),
        TEXT,
    )


def parse_reservations_text(text: str) -> list[LrmReservation]:
    """Reservations from ``scontrol show reservation [--oneliner]`` of any release."""
    if text.strip() == NO_RESERVATIONS:
        return []
    found = text_records(text, "ReservationName")
    if not found:
        raise LRMParseError(f"{TEXT}: neither reservations nor {NO_RESERVATIONS!r}")
    return [_from_text(r) for r in found]


def _time(raw: dict[str, Any], key: str, name: str) -> float:
    value = raw.get(key)
    if isinstance(value, dict) and value.get("infinite") is True:
        return math.inf  # no end: held until an admin deletes it
    stamp = number(value)
    if stamp is None:
        raise LRMParseError(f"{JSON}: {name} has no {key}")
    return float(stamp)


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LRMParseError(f"{JSON}: {key} is {type(value).__name__}, not a string")
    return value


def _from_json(raw: dict[str, Any]) -> LrmReservation:
    name = _text(raw, "name")
    return _checked(
        LrmReservation(
            name=name,
            start=_time(raw, "start_time", name),
            end=_time(raw, "end_time", name),
            nodes=tuple(expand_hostlist(_text(raw, "node_list"))),
            node_count=number(raw.get("node_count")) or 0,
            cores=number(raw.get("core_count")) or 0,
            users=_words(raw.get("users")),
            accounts=_words(raw.get("accounts")),
            groups=_words(raw.get("groups")),
            partition=_text(raw, "partition"),
            flags=_words(raw.get("flags")),
        ),
        JSON,
    )


def parse_reservations_json(text: str) -> list[LrmReservation]:
    """Reservations from ``scontrol show reservation --json`` (23.02+) or slurmrestd's
    ``/reservations``: data_parser v0.0.39 to v0.0.42. The JSON has no state word."""
    data = load(text, JSON)
    errors = data.get("errors")
    if errors:
        raise LRMParseError(f"{JSON} reports errors: {str(errors)[:200]}")
    if data.get("reservations") is None:
        raise LRMParseError(f"{JSON}: no reservations list in the output")
    return [_from_json(raw) for raw in records(data, "reservations", JSON)]
