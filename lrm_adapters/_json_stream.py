"""One JSON document read from its text chunks: the members of one top-level container.

Layer: pure parsing support, standard library only. ``squeue --json`` of a million jobs
is ~320 MB, and ``json.loads`` of it holds the text and every job's dict at once (~3x the
output). What a parser needs is one member of the top-level object (``"jobs"``, PBS's
``"Jobs"``), job by job; so here the document is walked at its top two levels by hand
and each job (or PBS value) is decoded alone by the C scanner (``scan_once``), from a
buffer that keeps only the text not yet consumed. The other top-level members (meta,
errors, timestamp...) are decoded and dropped.

A chunk may end anywhere, so a decode that fails, or a value that ends where the buffer
does (``12`` of ``123``), is tried again with more text, but only when the failure could
be the buffer's end: the scanner stopped within a token's length of it, or in a string
still open there. A failure further back is garbled JSON at once, without reading on.
The unconsumed text at least doubles before a retry, so a value longer than many chunks
costs a few decodes, not one per chunk.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from lrm_adapters._stream import Text
from lrm_adapters.base import LRMParseError

#: JSON's whitespace, as ``json.decoder`` skips it
_SPACE_CHARS = " \t\n\r"
_SPACE = re.compile(r"[ \t\n\r]*")
#: a member's name with no escape or control character, its colon, the whitespace after
_PLAIN_NAME = re.compile(r'[ \t\n\r]*"([^"\\\x00-\x1f]*)"[ \t\n\r]*:[ \t\n\r]*')
#: the longest prefix of one token that can fail to decode only for want of its rest:
#: ``-Infinit``, an escaped surrogate pair cut in its second ``\u`` (``\ud83d\ude``), a
#: number's ``1.5e+``
_TOKEN_TAIL = 16
#: the C scanner ``raw_decode`` wraps, called without that Python frame: (value, end), or
#: StopIteration(pos) where no value starts (what ``raw_decode`` calls "Expecting value")
_DECODE: Callable[[str, int], tuple[Any, int]]
_DECODE = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # typeshed lacks it


def _skip_space(text: str, pos: int) -> int:
    match = _SPACE.match(text, pos)  # it matches everywhere, if only ""
    return match.end() if match else pos


class _Reader:
    """The unconsumed text (``buffer[pos:]``) of a document arriving in chunks."""

    def __init__(self, source: Text, what: str) -> None:
        self.chunks = iter([source] if isinstance(source, str) else source)
        self.what = what
        self.buffer = ""
        self.pos = 0
        self.dropped = 0  # characters consumed and cut off the buffer: offsets in errors
        self.ended = False

    def more(self, at_least: int = 1) -> bool:
        """Append chunks until ``at_least`` more characters arrived; False at the end."""
        if self.ended:
            return False
        parts: list[str] = []
        got = 0
        for chunk in self.chunks:
            parts.append(chunk)
            got += len(chunk)
            if got >= at_least:
                break
        else:
            self.ended = True
        if not got:
            return False  # the buffer as it was: the caller's offsets still hold
        # "" + text is text itself: one whole output is never copied
        arrived = parts[0] if len(parts) == 1 else "".join(parts)
        self.dropped += self.pos
        self.buffer, self.pos = self.buffer[self.pos :] + arrived, 0
        return True

    def grow(self) -> bool:
        """At least double the unconsumed text (what a retried decode scans again)."""
        return self.more(max(len(self.buffer) - self.pos, 1))

    def peek(self) -> str:
        """The next character past whitespace ("" at the end of the input)."""
        while True:
            self.pos = _skip_space(self.buffer, self.pos)
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self.more():
                return ""

    def expect(self, allowed: str, context: str) -> str:
        pos = self.pos
        if pos < len(self.buffer) and self.buffer[pos] in allowed:  # value() left us there
            self.pos = pos + 1
            return self.buffer[pos]
        char = self.peek()
        if not char or char not in allowed:
            found = repr(char) if char else "the end of the output"
            wanted = " or ".join(repr(c) for c in allowed)
            self.fail(f"expected {wanted} {context}, found {found}", self.pos)
        self.pos += 1
        return char

    def fail(self, why: str, pos: int) -> NoReturn:
        raise LRMParseError(f"{self.what} output is not JSON: {why} at char {self.dropped + pos}")

    def _cut_short(self, pos: int) -> bool:
        """Whether a value failing at ``pos`` may just be missing the text still to come."""
        return not self.ended and pos >= len(self.buffer) - _TOKEN_TAIL

    def value(self) -> Any:
        """The next value, its last character followed by the next token (or the end);
        the position is left on that token."""
        buffer, pos = self.buffer, self.pos
        if pos + 1 < len(buffer) and buffer[pos] == " " and buffer[pos + 1] not in _SPACE_CHARS:
            self.pos = pos + 1  # the one space json.dumps puts after a comma: what peek skips
        elif pos >= len(buffer) or buffer[pos] in _SPACE_CHARS:
            self.peek()
        while True:
            try:
                value, end = _DECODE(self.buffer, self.pos)
            except StopIteration as stop:  # no value at stop.value: raw_decode's words for it
                if self._cut_short(stop.value) and self.grow():
                    continue
                self.fail("Expecting value", stop.value)
            except json.JSONDecodeError as exc:
                unterminated = exc.msg.startswith("Unterminated string") and not self.ended
                if (unterminated or self._cut_short(exc.pos)) and self.grow():
                    continue
                self.fail(exc.msg, exc.pos)
            except ValueError:  # past Python's 4300 digits: past any count of the LRM's
                self.fail("an integer too long to read", self.pos)
            except RecursionError:
                self.fail("nested too deep", self.pos)
            if end < len(self.buffer) and self.buffer[end] in ",]}:":
                self.pos = end  # the delimiter right after it: what the skip below finds
                return value
            after = _skip_space(self.buffer, end)
            complete = after < len(self.buffer) and self.buffer[after] in ",]}:"
            if not complete and self._cut_short(after) and self.grow():
                continue  # "12" of "123", "1" of "1.5": decode it again with its rest
            self.pos = after
            return value


def array_members(source: Text, key: str, what: str) -> Iterator[Any]:
    """The elements of the top-level object's ``key`` array, one at a time (none when
    ``key`` is absent or null). LRMParseError for garbled or truncated JSON, a top level
    that is not an object, ``key`` neither an array nor null, or twice."""
    reader = _Reader(source, what)
    context = f"after an element of {key}"
    for _ in _top_level(reader, key, "["):
        if reader.peek() == "]":
            reader.pos += 1
            continue
        while True:
            yield reader.value()
            pos = reader.pos
            if pos < len(reader.buffer) and reader.buffer[pos] == ",":
                reader.pos = pos + 1  # what expect does there, without its call
            elif reader.expect(",]", context) == "]":
                break


def object_members(source: Text, key: str, what: str) -> Iterator[tuple[str, Any]]:
    """The (name, value) pairs of the top-level object's ``key`` object, one at a time,
    in the document's order (a name given twice comes twice); errors as ``array_members``."""
    reader = _Reader(source, what)
    for _ in _top_level(reader, key, "{"):
        if reader.peek() == "}":
            reader.pos += 1
            continue
        while True:
            name = _name(reader, f"in {key}")
            yield name, reader.value()
            if reader.expect(",}", f"after a member of {key}") == "}":
                break


def _name(reader: _Reader, context: str) -> str:
    """A member's name and its colon, past the whitespace after them."""
    plain = _PLAIN_NAME.match(reader.buffer, reader.pos)
    if plain:  # a name whole in the buffer, without escapes: what decoding it would give
        reader.pos = plain.end()
        return plain.group(1)
    if reader.peek() != '"':
        reader.expect('"', f"(a member's name) {context}")
    name = reader.value()
    reader.expect(":", f"after the name {name!r}")
    return str(name)


def _top_level(reader: _Reader, key: str, opener: str) -> Iterator[None]:
    """Walk the top-level object; at ``key``'s container (its ``opener`` consumed),
    yield once for the caller to read the container through its closing bracket."""
    if reader.peek() not in {"{", ""}:
        raise LRMParseError(f"{reader.what} output is not a JSON object")
    reader.expect("{", "to open the output")
    seen = False
    if reader.peek() == "}":
        reader.pos += 1
    else:
        while True:
            name = _name(reader, "at the top level")
            if name != key:
                reader.value()  # meta, errors, warnings, timestamp...: not needed
            elif seen:
                raise LRMParseError(f"{reader.what} output has {key} twice")
            else:
                seen = True
                start = reader.peek()
                if start == opener:
                    reader.pos += 1
                    yield
                elif reader.value() is not None:
                    kind = "an array" if opener == "[" else "an object"
                    raise LRMParseError(f"{reader.what}: {key} is not {kind}")
            if reader.expect(",}", "after a top-level member") == "}":
                break
    if reader.peek():
        reader.fail("extra data after the document", reader.pos)
