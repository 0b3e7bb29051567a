"""An LRM's output as it arrives: bytes chunks to text, text chunks to lines.

Layer: pure parsing support. A million-job queue prints hundreds of megabytes; the
text parsers read it a line at a time from these iterators, so what they hold is the
jobs they keep, not the whole output besides. A chunk boundary may fall anywhere,
inside a line or inside a UTF-8 sequence; both are joined here, once.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator

#: what the text parsers take: the whole output, or its chunks as they come
Text = str | Iterable[str]


def decoded(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text of UTF-8 ``chunks``; a byte that is not UTF-8 is replaced, as the command
    runner does for a whole output, so the parsers judge text, never a decode error."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def lines(source: Text) -> Iterator[str]:
    """Lines (without their ending) of a whole text or of its chunks.

    A whole ``str`` is split as ``str.splitlines`` does, so a parser reads one text
    the same way it always has; chunks are split at ``\\n`` only, the rest of each line
    (a ``\\r`` included) left to the parser, as it is in the text.
    """
    if isinstance(source, str):
        yield from source.splitlines()
        return
    rest = ""
    for chunk in source:
        parts = (rest + chunk).split("\n") if rest else chunk.split("\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest
