"""Counts as the LRMs print them, read so that garbled output is an LRMParseError.

Layer: pure parsing. A core count, slot count or size that is not a number means the
output was cut short or mangled (the fuzz tests make such outputs by the thousand): the
pass must see "could not read the LRM", never a ValueError traceback, and never act on
a guess. JSON numbers may be ``1e999`` (infinite to Python) or huge; those are refused
the same way.
"""

from __future__ import annotations

import math

from lrm_adapters.base import LRMParseError

#: larger than any count or size an LRM prints (cores, MB, seconds, job ids)
_LIMIT = 2**62


def whole(text: str | None, what: str, default: int = 0) -> int:
    """``text`` as an int (``default`` when missing or empty); LRMParseError otherwise."""
    if text is None or not text.strip():
        return default
    try:
        value = int(text.strip())
    except ValueError:
        try:
            value = finite(float(text), what)  # SGE prints num_proc as 2.000000 at times
        except ValueError:
            raise LRMParseError(f"{what} is not a number: {text[:40]!r}") from None
    return bounded(value, what)


def finite(value: float, what: str) -> int:
    """A JSON or ClassAd number as an int; LRMParseError for inf, nan or absurd sizes."""
    if not math.isfinite(value):
        raise LRMParseError(f"{what} is not a finite number: {value!r}")
    return bounded(int(value), what)


def bounded(value: int, what: str) -> int:
    if abs(value) > _LIMIT:
        raise LRMParseError(f"{what} is out of range: {value}")
    return value
