"""``condor_q -long`` text cut into ads by splits over each chunk: the same ad texts as the
line rule gives (an ad is a run of lines that are not blank, joined by newlines), wherever
the chunks are cut, with blank lines of whitespace, several of them, or none at the end.

``by_lines`` is the rule as ``iter_long_output`` applied it line by line before."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain

from hypothesis import given, settings
from hypothesis import strategies as st

from lrm_adapters._stream import lines
from lrm_adapters.htcondor import _ad_texts, iter_long_output


def by_lines(text: str | list[str]) -> list[str]:
    ads, block = [], []
    for line in chain(lines(text), [""]):
        if line.strip():
            block.append(line)
        elif block:
            ads.append("\n".join(block))
            block = []
    return ads


LINES = ["ClusterId = 1", "ProcId = 0", 'Owner = "u"', "  Cpus = 2", "x", "a = b = c"]
BLANKS = ["", " ", "\t", "  \t", "\r", "\xa0", "\u2028", "\x0c"]


@st.composite
def outputs(draw: st.DrawFn) -> str:
    parts = draw(
        st.lists(st.sampled_from(LINES) | st.sampled_from(BLANKS), min_size=0, max_size=30)
    )
    return "\n".join(parts) + draw(st.sampled_from(["", "\n", "\n\n", " ", "\n \n"]))


@settings(max_examples=400, deadline=None, database=None)
@given(text=outputs(), size=st.integers(1, 40))
def test_ad_texts_are_the_runs_of_lines_that_are_not_blank(text: str, size: int) -> None:
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    assert list(_ad_texts(chunks)) == by_lines(chunks)
    assert list(_ad_texts(text)) == by_lines(text)


def test_an_ad_across_chunks_and_separators_of_every_kind() -> None:
    text = "\n \nA = 1\nB = 2\n\t\n\n\nC = 3\n  \nD = 4"
    expected = ["A = 1\nB = 2", "C = 3", "D = 4"]
    assert by_lines(text) == expected
    for size in (1, 2, 3, 5, 8, 64):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        assert list(_ad_texts(chunks)) == expected


def test_whole_text_line_breaks_are_those_of_splitlines() -> None:
    """A whole text is read as ``str.splitlines`` cuts it (a lone ``\\r`` ends a line),
    chunks at ``\\n`` only, as ``lines`` does: both as before."""
    text = "A = 1\rB = 2\r\rC = 3"
    assert list(_ad_texts(text)) == ["A = 1\nB = 2", "C = 3"]
    assert list(_ad_texts([text])) == ["A = 1\rB = 2\r\rC = 3"]


def test_ads_are_held_one_at_a_time_not_the_output() -> None:
    """The text read so far is given up at each blank line: a chunk's ads come out
    before the next chunk is asked for."""
    asked = []

    def chunks() -> Iterator[str]:
        for i in range(3):
            asked.append(i)
            yield f"ClusterId = {i}\nProcId = 0\n\n"

    for n, ad in enumerate(iter_long_output(chunks())):
        assert ad["ClusterId"] == n and asked == list(range(n + 1))
