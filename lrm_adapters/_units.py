"""Memory sizes as the LRMs print them, to MB: the one parser SGE, PBS and Slurm share.

Layer: pure parsing; imports nothing of elastic. Every multiplier is binary (1024), as SGE's
K/M/G/T, PBS's kb/mb/gb/tb and Slurm's K/M/G/T are; suffixes are case-insensitive. A size is
a number (``2``, ``1.5``) and an optional suffix: a multiplier ``k``/``m``/``g``/``t``/``p``
followed by an optional ``b`` (bytes) or ``w`` (PBS words of 8 bytes): ``2G``, ``1.5g``,
``512M``, ``8gb``, ``16331784kb``, ``4kw``, ``100b``, ``3w``. A bare number is in
``default_unit``: bytes for SGE and PBS, MB for Slurm. Anything else (``-``, ``INFINITY``,
``(null)``, the empty string) is 0: unknown, which the planner treats as "no request".
"""

from __future__ import annotations

import functools
import math
import re

_MULTIPLIER_MB = {"": 2**-20, "k": 2**-10, "m": 1, "g": 2**10, "t": 2**20, "p": 2**30}
_WORD_BYTES = 8
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtp]?)([bw]?)\s*", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def memory_mb(text: str, default_unit: str = "b") -> int:
    """``text`` as whole MB (rounded); ``default_unit`` (``b`` or ``m``...) for a bare number.

    Cached: a queue repeats a handful of request strings across 100k jobs."""
    match = _SIZE.fullmatch(text or "")
    if match is None:
        return 0
    value, multiplier, kind = match.group(1), match.group(2).lower(), match.group(3).lower()
    if not multiplier and not kind:
        multiplier = default_unit.lower().rstrip("b")
    factor = _MULTIPLIER_MB[multiplier] * (_WORD_BYTES if kind == "w" else 1)
    size = float(value) * factor
    return round(size) if math.isfinite(size) else 0  # 400 digits: garbled, unknown
