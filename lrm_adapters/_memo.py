"""A bounded memo of one conversion, kept for the length of one parse.

Layer: pure parsing support; imports nothing of elastic. A queue of a million jobs
prints a few hundred distinct time limits, users, memory requests and reasons: a
streamed parser converts each distinct text once and looks the rest up (a dict hit
is a C lookup, where a conversion is a regex or a datetime parse). The memo lives in
one parse call, so nothing is shared between outputs; it stops storing at ``limit``
entries, so an output whose every stamp differs costs a bounded dict, never one entry
a job. A conversion that raises stores nothing: the error surfaces where it always did.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: distinct texts kept per conversion: far more than a queue repeats, and a few hundred KB
LIMIT = 4096


class Memo(dict[K, V]):
    """``memo[text]`` is ``convert(text)``, computed once per distinct text."""

    __slots__ = ("_convert", "_limit")

    def __init__(self, convert: Callable[[K], V], limit: int = LIMIT) -> None:
        super().__init__()
        self._convert = convert
        self._limit = limit

    def __missing__(self, key: K) -> V:
        value = self._convert(key)
        if len(self) < self._limit:
            self[key] = value
        return value
