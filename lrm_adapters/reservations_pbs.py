"""OpenPBS / PBS Pro advance and standing reservations to ``LrmReservation``: ``pbs_rstat -F``.

Layer: pure parsing (imports the model and the shared number/time readers only).
``pbs_rstat -F`` (the same as ``-f``) prints one ``Resv ID: R123.server`` block per
reservation, of ``key = value`` lines (a long value may wrap onto a tab-indented line):
``Reserve_Name`` (``NULL`` when unnamed), ``reserve_start``/``reserve_end`` in ctime form
in the server's local time zone (read as this host's), ``reserve_state``
(``RESV_CONFIRMED``, ``RESV_RUNNING`` ...), ``resv_nodes`` (``(n1:ncpus=4)+(n2:ncpus=4)``),
``Resource_List.nodect``/``ncpus``, ``Authorized_Users``/``Authorized_Groups``
(``+alice@*,-bob``; a ``-`` entry denies) and, on sites with them, ``partition``.
``pbs_rstat`` prints nothing at all when there is no reservation, so empty output means
none; any other output that is not whole reservation blocks is an ``LRMParseError``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from elastic.model import LrmReservation
from lrm_adapters._numbers import whole
from lrm_adapters._times import epoch
from lrm_adapters.base import LRMParseError

WHAT = "pbs_rstat -F"
HEADER = "Resv ID:"
Attrs = dict[str, str]
_CHUNK = re.compile(r"\(([^():+]+)((?::[^()]*)?)\)")
_VNODE = re.compile(r"\[\d+\]$")
#: some PBS releases print a stamp as epoch seconds followed by its ctime
_EPOCH_FIRST = re.compile(r"^(\d{9,12})\s*\(")


def rstat_records(text: str) -> Iterator[Attrs]:
    """``Resv ID:`` blocks of ``key = value`` lines; a line that is neither is garbled."""
    record: Attrs | None = None
    last = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith(HEADER):
            if record is not None:
                yield record
            record, last = {"Resv_ID": line[len(HEADER) :].strip()}, ""
        elif record is not None and line.startswith("\t") and last:
            record[last] += line.strip()  # a value wrapped onto the next line
        elif record is not None and " = " in line:
            key, value = line.split(" = ", 1)
            record[key.strip()], last = value.strip(), key.strip()
        else:
            raise LRMParseError(f"{WHAT}: a line outside any reservation: {line[:60]!r}")
    if record is not None:
        yield record


def _stamp(attrs: Attrs, key: str) -> float:
    text = attrs.get(key, "")
    leading = _EPOCH_FIRST.match(text)
    value = epoch(leading.group(1) if leading else text)
    if value is None:
        raise LRMParseError(f"{WHAT}: {attrs['Resv_ID'][:60]} {key} = {text[:40]!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    """``+alice@*,bob@host,-carol`` → ``alice, bob, -carol`` (each once, host part dropped)."""
    names = (n.strip().lstrip("+").split("@")[0] for n in text.split(","))
    return tuple(dict.fromkeys(n for n in names if n and n != "-"))


def _nodes(text: str, ncpus: int) -> tuple[tuple[str, ...], int]:
    """Hosts of ``resv_nodes`` (each once; a host's vnode ``n03[1]`` is host ``n03``) and
    the cores they grant."""
    if not text:
        return (), ncpus
    chunks = text.split("+")
    hosts: dict[str, None] = {}
    cores = 0
    for chunk in chunks:
        match = _CHUNK.fullmatch(chunk.strip())
        if not match:
            raise LRMParseError(f"{WHAT}: resv_nodes chunk {chunk[:60]!r}")
        hosts[_VNODE.sub("", match.group(1))] = None
        for resource in match.group(2).split(":"):
            if resource.startswith("ncpus="):
                cores += whole(resource[len("ncpus=") :], f"{WHAT} ncpus")
    return tuple(hosts), cores or ncpus


def _reservation(attrs: Attrs) -> LrmReservation:
    resv_id = attrs["Resv_ID"]
    if not resv_id:
        raise LRMParseError(f"{WHAT}: a reservation without an id")
    start, end = _stamp(attrs, "reserve_start"), _stamp(attrs, "reserve_end")
    if end < start:
        raise LRMParseError(f"{WHAT}: {resv_id[:60]} ends before it starts")
    ncpus = whole(attrs.get("Resource_List.ncpus"), f"{WHAT} Resource_List.ncpus")
    nodes, cores = _nodes(attrs.get("resv_nodes", ""), ncpus)
    name = attrs.get("Reserve_Name", "")
    return LrmReservation(
        name=resv_id.split(".")[0] if name in {"", "NULL"} else name,
        start=start,
        end=end,
        nodes=nodes,
        node_count=whole(
            attrs.get("Resource_List.nodect"), f"{WHAT} Resource_List.nodect", len(nodes)
        ),
        cores=cores,
        users=_names(attrs.get("Authorized_Users", "")),
        groups=_names(attrs.get("Authorized_Groups", "")),
        partition=attrs.get("partition", ""),
        state=attrs.get("reserve_state", ""),
    )


def parse_pbs_rstat(text: str) -> list[LrmReservation]:
    """Reservations from ``pbs_rstat -F`` (empty output: none)."""
    return [_reservation(attrs) for attrs in rstat_records(text)]
