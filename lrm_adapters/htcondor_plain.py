"""``condor_q -long`` ads of literals only, read without classad2.

Layer: pure parsing support for ``lrm_adapters.htcondor``; imports ``elastic.model``
only (classad2 lazily, for what a caller asks of an ad beyond its values). A
million-job listing spent most of its time crossing into classad2: one parse per ad,
then three Python frames and a conversion per attribute read. An ad whose every
line is ``Name = literal`` in the one form ``condor_q -long`` prints (one space each
side of ``=``; an integer of at most 18 digits, no leading zero; a string with no
backslash, quote, control character or surrogate; ``true``/``false`` in any case)
has values Python reads exactly as classad2 does, so it is read here with one regex
pass. Any other line (an expression, a real, ``undefined``, an escaped string, a
comment, a line classad2 would silently drop, a number past 64 bits that classad2
reads as 0) sends the whole ad to classad2, so its errors and its quirks stay its
own: the fast path only takes what it is sure of.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from elastic.model import Job

Literal = int | str | bool

#: one ``Name = literal`` line; groups: name, integer, string body, boolean
_LINE = re.compile(
    r"^([A-Za-z_][A-Za-z0-9_]*) = (?:"
    r"(0|-?[1-9][0-9]{0,17})"
    r'|"([^"\\\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]*)"'
    r"|((?i:true|false)))$",
    re.MULTILINE,
)


class PlainAd:
    """An ad of literals: its values by lower-case name, and its text for the rest.

    Lookups fold case, as ClassAd names do; a name assigned twice holds its last value,
    as in classad2. Whatever else is asked (its text, its names as spelled) comes from
    the classad2 ad of the same text, parsed only then.
    """

    __slots__ = ("_classad", "text", "values")

    def __init__(self, values: dict[str, Literal], text: str) -> None:
        self.values = values
        self.text = text
        self._classad: Any = None

    @property
    def classad(self) -> Any:
        """The classad2 ad of the same text (parsed on first use)."""
        if self._classad is None:
            import classad2

            self._classad = classad2.parseNext(self.text)
        return self._classad

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key.lower(), default)

    def __getitem__(self, key: str) -> Literal:
        try:
            return self.values[key.lower()]
        except KeyError:
            raise KeyError(key) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self.values

    def eval(self, key: str) -> Literal:
        """A literal evaluates to itself; a missing name raises KeyError, as in classad2."""
        return self[key]

    def __len__(self) -> int:
        return len(self.values)

    def __iter__(self) -> Iterator[str]:
        return iter(self.classad)

    def __str__(self) -> str:
        return str(self.classad)

    def __repr__(self) -> str:
        return repr(self.classad)


def read_plain(text: str) -> PlainAd | None:
    """The ad of ``text`` if every line of it is a plain literal, else None (classad2's).

    ``^``/``$`` anchor each match to one whole line, so as many matches as lines means
    that no line is anything else.
    """
    pairs = _LINE.findall(text)
    if len(pairs) != text.count("\n") + 1:
        return None
    return PlainAd(
        {
            name.lower(): int(number) if number else (boolean[0] in "tT" if boolean else string)
            for name, number, string, boolean in pairs
        },
        text,
    )


def job_from_plain(values: dict[str, Literal]) -> Job:
    """``htcondor.job_from_ad`` on literal values, with its rules spelled out inline.

    Its ``_number`` keeps an int and gives the default for anything else (a bool, or a
    string, whose evaluation is the string); its ``_text`` is ``str(value)`` when the
    value is truthy. Inline, the reads are dict lookups, not a call each.
    """
    get = values.get
    status = get("jobstatus", 0)
    if type(status) is not int:
        status = 0
    cpus = get("requestcpus", 1)
    memory = get("requestmemory", 0)
    qdate = get("qdate", 0)
    allowed = get("allowedjobduration", 0)
    group: Any = get("acctgroup")
    if group:
        group = str(group)
    elif accounting := get("accountinggroup"):
        group = str(accounting).split(".")[0].removeprefix("group_")
    else:
        group = None
    owner = get("owner")
    vo = get("x509userproxyvoname")
    start: float | None = None
    hosts: tuple[str, ...] = ()
    if status == 2:
        started = get("jobcurrentstartdate", 0)
        start = float(started if type(started) is int else 0) or None
        if remote := get("remotehost"):
            hosts = (str(remote).split("@")[-1],)
    if status == 1 or status == 2:
        reason = ""
    else:
        held = get("holdreason")
        reason = (str(held) if held else None) or f"JobStatus {status}"
    return Job(
        id=f"{get('clusterid')}.{get('procid', 0)}",
        cores=max(1, cpus if type(cpus) is int else 1),
        memory_mb=max(0, memory if type(memory) is int else 0),
        runnable=status == 1,
        running=status == 2,
        user=str(owner) if owner else None,
        project=str(vo) if vo else None,
        account=group or None,
        submit_time=float(qdate if type(qdate) is int else 0) or None,
        walltime_s=(allowed if type(allowed) is int else 0) or None,
        start_time=start,
        hosts=hosts,
        reason=reason,
    )
