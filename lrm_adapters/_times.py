"""LRM time stamps to seconds since the epoch.

Layer: pure parsing. SGE prints ISO 8601 (``2010-07-08T04:40:46``) or, in later
releases, epoch seconds or milliseconds; PBS prints ctime (``Sat Apr 20 01:36:59
2013``). Stamps without a zone are the LRM host's local time, which is this
host's too when elastic runs beside the LRM's client commands, as it does.
"""

from __future__ import annotations

import math
from datetime import datetime

#: later than any second-resolution stamp of this century: such numbers are milliseconds
_MILLISECONDS = 10**11


def epoch(text: str | None) -> float | None:
    """Seconds since the epoch, or None for a missing or unreadable stamp."""
    if not text or not text.strip():
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):  # inf or nan: garbled, no stamp
            return None
        return value / 1000 if value > _MILLISECONDS else value
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        pass
    try:
        return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y").timestamp()
    except ValueError:
        return None
