"""``scontrol show`` text to records: the ``Key=Value`` tokens of each, as they come.

Layer: pure parsing; imports nothing of elastic. A token is a key (a letter, then
letters, digits, ``_ : / .``) and ``=``, where the text starts or after whitespace; its
value runs to the next token, stripped, so a free-text value keeps its later words
(``Reason=Not responding``) and a word that is no token stays in the value before it
(``(a=b)``). A key given twice keeps its last value. ``records`` reads every token of
every record; ``FieldReader`` reads a few fields of each, by the shape of its line, the
same values ``records`` reads, for the million-job listings of ``scontrol -o``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter

from lrm_adapters._stream import Text, lines
from lrm_adapters.base import LRMParseError

Record = dict[str, str]
#: a key where the text starts or after whitespace: the text is read with a space put in
#: front, so one ``\s`` stands for both, and the regex engine jumps from whitespace to
#: whitespace instead of trying an alternation at every character
_TOKEN = re.compile(r"\s([A-Za-z][\w:/.]*)=")
_KEY = re.compile(r"[A-Za-z][\w:/.]*")
#: the key sequences learned per output (an ``-o`` output prints a handful: pending,
#: running, array jobs...); a line of any other is read as ``records`` reads it
SHAPES = 16


def records(text: Text, first_key: str) -> list[Record]:
    """Key=Value records; a new record starts at each ``first_key``."""
    return list(iter_records(text, first_key))


def iter_records(text: Text, first_key: str) -> Iterator[Record]:
    """``records`` one at a time, from the whole text or its chunks as they come."""
    for block in blocks(text, first_key):
        found = record(block, first_key)
        if found is not None:
            yield found


def blocks(text: Text, first_key: str) -> Iterator[list[str]]:
    """Each record's pieces of lines, and the text before the first record.

    A record starts where ``first_key=`` follows the start of the output or whitespace
    (one line in ``-o`` form, several indented lines otherwise); only the lines of the
    record being read are held. An ``-o`` record comes as ``[line]``, or ``[line, ""]``
    when a record follows it.
    """
    needle = f"{first_key}="
    block: list[str] = []
    for line in lines([text] if isinstance(text, str) else text):
        if line.startswith(needle) and (
            line.find(needle, 1) == -1 or (f" {needle}" not in line and line.isprintable())
        ):
            # an ``-o`` line that starts a record and starts no other (a printable line
            # has no whitespace but spaces): what the loop below does, in fewer steps
            if block:
                block.append("")
                yield block
            block = [line]
            continue
        cut = 0
        at = line.find(needle)  # str.find, not a regex tried at every position
        while at != -1:
            if at == 0 or line[at - 1].isspace():  # what \s matches; a line's start too
                if at > 0 or block:
                    block.append(line[cut:at])
                    yield block
                block, cut = [], at
            at = line.find(needle, at + 1)
        block.append(line[cut:])
    yield block


def record(block: list[str], first_key: str) -> Record | None:
    """One block's tokens, its pieces joined by newlines; None for text before the
    first record, LRMParseError for a record whose ``first_key=`` is no token."""
    text = "\n".join(block)
    if f"{first_key}=" not in text:
        return None
    # one split in C: [text before the first key, key, value, key, value, ...]
    parts = _TOKEN.split(f" {text}")
    found = dict(zip(parts[1::2], map(str.strip, parts[2::2]), strict=True))
    if first_key not in found:  # "<JobId=…": a record we cannot read, not one fewer
        raise LRMParseError(f"scontrol record without {first_key}: {text[:60]!r}")
    return found


@dataclass(frozen=True)
class _Shape:
    """One key sequence: a pattern matching exactly the lines of it, and which of the
    pattern's groups, or of the defaults after them, holds each field's value."""

    line: re.Pattern[str]
    take: Callable[[tuple[str, ...]], tuple[str, ...]]


class FieldReader:
    """The values of some fields (two or more) of each record of one output.

    An ``-o`` output repeats a few key sequences. For each, one pattern is compiled
    that matches exactly the lines ``Key1=value1 Key2=value2 ...`` of those keys, each
    value without whitespace, one space between tokens: in such a line the words are
    the tokens, so a match's groups are the values ``record`` reads, a key given twice
    read at its last place. One match reads a line, where building its dict touches
    every token. Shapes are found by the line's count of spaces; any other block (a
    value with a space, a tab, several lines, or the sequences past ``SHAPES``) is read
    by ``record``.
    """

    def __init__(self, first_key: str, fields: tuple[tuple[str, str], ...]) -> None:
        """``fields``: (key, the value of a record without it) pairs."""
        self.first_key = first_key
        self.names = [name for name, _ in fields]
        self.defaults = tuple(default for _, default in fields)
        self.shapes: dict[int, list[_Shape]] = {}  # by the count of spaces of their lines
        self.learned = 0

    def values(self, block: list[str]) -> tuple[str, ...] | None:
        """The fields' values of the record in ``block``; None for text before the first."""
        if len(block) == 1 or (len(block) == 2 and not block[1]):
            line = block[0]
            for shape in self.shapes.get(line.count(" "), ()):
                match = shape.line.fullmatch(line)
                if match is not None:
                    return shape.take(match.groups() + self.defaults)
            learned = self._learn(line) if self.learned < SHAPES else None
            match = learned.line.fullmatch(line) if learned is not None else None
            if learned is not None and match is not None:
                return learned.take(match.groups() + self.defaults)
        found = record(block, self.first_key)
        if found is None:
            return None
        return tuple(map(found.get, self.names, self.defaults))

    def _learn(self, line: str) -> _Shape | None:
        """The shape of ``line``'s keys, kept; None when a word is no token or there is no
        ``first_key`` (``record`` then decides)."""
        keys = []
        for word in line.split(" "):
            key, equals, _ = word.partition("=")
            if not equals or _KEY.fullmatch(key) is None:
                return None
            keys.append(key)
        if self.first_key not in keys:
            return None
        last = {key: at for at, key in enumerate(keys)}  # a key given twice: its last value
        group: dict[str, int] = {}
        pattern = []
        for at, key in enumerate(keys):
            if key in self.names and last[key] == at:
                group[key] = len(group)
                pattern.append(rf"{re.escape(key)}=(\S*+)")
            else:
                pattern.append(rf"{re.escape(key)}=\S*+")
        places = [group.get(name, len(group) + i) for i, name in enumerate(self.names)]
        shape = _Shape(re.compile(" ".join(pattern)), itemgetter(*places))
        self.shapes.setdefault(len(keys) - 1, []).append(shape)
        self.learned += 1
        return shape
