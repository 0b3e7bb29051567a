"""Grid Engine advance reservations (AR) to ``LrmReservation``: ``qrstat`` XML.

Layer: pure parsing (imports the model and the shared number/time readers only).
``qrstat -xml -u '*'`` lists every user's ARs (id, name, owner, state, start and end);
what an AR holds, its granted queue instances and slots and its ACL, is only in
``qrstat -ar <id,...> -xml``, which answers ``<ar_unknown>`` for an AR deleted between
the two commands. SGE stamps are ISO 8601 in the qmaster's local time zone, read as this
host's (``_times.epoch``). An output that is not a whole ``<qrstat>`` document, or a
detail that leaves out a listed AR, is an ``LRMParseError``: a reading that lost its
reservations must never look like one with none.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from elastic.model import LrmReservation
from lrm_adapters._numbers import whole
from lrm_adapters._times import epoch
from lrm_adapters.base import LRMParseError

SUMMARY = "qrstat -xml -u '*'"
DETAIL = "qrstat -ar -xml"


def _root(data: bytes | str, what: str) -> ET.Element:
    raw = data.encode() if isinstance(data, str) else data
    try:
        root = ET.fromstring(raw)  # noqa: S314 - our own LRM's output
    except ET.ParseError as exc:
        raise LRMParseError(f"{what} XML is garbled: {exc}") from exc
    if root.tag != "qrstat":
        raise LRMParseError(f"{what}: the document is <{root.tag[:40]}>, not <qrstat>")
    return root


def _id(element: ET.Element, what: str) -> str:
    text = (element.findtext("id") or "").strip()
    if not text.isdigit():
        raise LRMParseError(f"{what}: an AR whose id is {text[:20]!r}")
    return text


def parse_qrstat_ids(data: bytes | str) -> list[str]:
    """The ids of the ARs ``qrstat -xml -u '*'`` lists (none: an empty ``<qrstat>``)."""
    root = _root(data, SUMMARY)
    unexpected = [child.tag for child in root if child.tag != "ar_summary"]
    if unexpected:
        raise LRMParseError(f"{SUMMARY}: unexpected <{unexpected[0][:40]}>")
    return [_id(summary, SUMMARY) for summary in root]


def _stamp(summary: ET.Element, key: str, ar: str) -> float:
    value = epoch(summary.findtext(key))
    if value is None:
        raise LRMParseError(f"{DETAIL}: AR {ar} has no readable {key}")
    return value


def _reservation(summary: ET.Element) -> LrmReservation:
    ar = _id(summary, DETAIL)
    hosts: dict[str, None] = {}  # ordered, each host once
    slots = 0
    for granted in summary.iterfind("granted_slots_list/granted_slots"):
        queue, _, host = (granted.get("queue_instance") or "").partition("@")
        if not queue or not host:
            raise LRMParseError(f"{DETAIL}: AR {ar} granted {granted.get('queue_instance')!r}")
        hosts[host] = None
        slots += whole(granted.get("slots"), f"{DETAIL} slots")
    owner = (summary.findtext("owner") or "").strip()
    acl = [entry.get("user") or "" for entry in summary.iterfind("acl_list/acl")]
    users = [name for name in (owner, *acl) if name and not name.startswith("@")]
    start, end = _stamp(summary, "start_time", ar), _stamp(summary, "end_time", ar)
    if end < start:
        raise LRMParseError(f"{DETAIL}: AR {ar} ends before it starts")
    return LrmReservation(
        name=(summary.findtext("name") or "").strip() or ar,
        start=start,
        end=end,
        nodes=tuple(hosts),
        node_count=len(hosts),
        cores=slots,
        users=tuple(dict.fromkeys(users)),
        groups=tuple(dict.fromkeys(n[1:] for n in acl if n.startswith("@") and n[1:])),
        state=(summary.findtext("state") or "").strip(),
    )


def parse_qrstat_ar_xml(data: bytes | str, ids: list[str]) -> list[LrmReservation]:
    """The ARs ``ids`` from ``qrstat -ar <ids> -xml``. An id SGE answers as unknown was
    deleted since the listing and is left out; an id the answer does not mention at all
    means the output was cut short."""
    root = _root(data, DETAIL)
    found: dict[str, LrmReservation] = {}
    unknown: set[str] = set()
    for child in root:
        if child.tag == "ar_summary":
            found[_id(child, DETAIL)] = _reservation(child)
        elif child.tag == "ar_unknown":
            unknown.add(_id(child, DETAIL))
        else:
            raise LRMParseError(f"{DETAIL}: unexpected <{child.tag[:40]}>")
    missing = [ar for ar in ids if ar not in found and ar not in unknown]
    if missing:
        raise LRMParseError(f"{DETAIL}: no answer for AR {', '.join(missing[:5])}")
    return [found[ar] for ar in ids if ar in found]
