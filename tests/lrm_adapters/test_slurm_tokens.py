"""``scontrol`` tokens read by the shape of a line (``FieldReader``) and by the token regex
(``records``): the same values as the token rule gives, whatever the line.

The rule, written out below as ``by_rule`` the way the parser read every record before
lines were read by their shape: a token is a key (``[A-Za-z][\\w:/.]*``) and ``=`` at the
start of the record or after whitespace; its value runs to the next token, stripped; a
key given twice keeps its last value. The generated lines repeat key sequences (so
learned shapes are used) and put in what breaks a shape: spaces in values, tabs, words
that are no token, keys given twice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrm_adapters._memo import Memo
from lrm_adapters.base import LRMParseError
from lrm_adapters.slurm_text import JOB_FIELDS, parse_scontrol_jobs
from lrm_adapters.slurm_tokens import SHAPES, FieldReader, blocks, records

RULE = re.compile(r"(?:^|\s)([A-Za-z][\w:/.]*)=")


def by_rule(block: list[str], first_key: str) -> dict[str, str] | None:
    text = "\n".join(block)
    if f"{first_key}=" not in text:
        return None
    parts = RULE.split(text)
    found = dict(zip(parts[1::2], (v.strip() for v in parts[2::2]), strict=True))
    if first_key not in found:
        raise LRMParseError("no first key")
    return found


def reader_values(text: str) -> Iterator[tuple[str, ...] | None]:
    reader = FieldReader("JobId", JOB_FIELDS)
    return (reader.values(block) for block in blocks(text, "JobId"))


def rule_values(text: str) -> Iterator[tuple[str, ...] | None]:
    for block in blocks(text, "JobId"):
        found = by_rule(block, "JobId")
        yield None if found is None else tuple(found.get(k, d) for k, d in JOB_FIELDS)


def outcome(read: Callable[[], Iterable[object]]) -> object:
    try:
        return list(read())
    except LRMParseError:
        return LRMParseError


KEYS = [name for name, _ in JOB_FIELDS] + ["JobName", "TRES", "Comment", "ReqB:S:C:T", "x.y"]
VALUES = ["1", "4-8", "PENDING", "RUNNING", "(null)", "", "8000M", "01:00:00", "cpu=1,node=1"]
NOISE = [" ", "\t", "  ", "\xa0", " word", " (a=b)", " JobState=RUNNING", " 9x=1", "="]


@st.composite
def outputs(draw: st.DrawFn) -> str:
    """Lines of one or two key sequences; some values with what breaks a shape."""
    sequences = [
        ["JobId", *draw(st.lists(st.sampled_from(KEYS), min_size=1, max_size=12))]
        for _ in range(draw(st.integers(1, 2)))
    ]
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        keys = draw(st.sampled_from(sequences))
        words = [f"{key}={draw(st.sampled_from(VALUES))}" for key in keys]
        line = " ".join(words)
        if draw(st.booleans()):
            at = draw(st.integers(0, len(line)))
            line = line[:at] + draw(st.sampled_from(NOISE)) + line[at:]
        lines.append(line)
    return "\n".join(lines)


@settings(max_examples=300, deadline=None, database=None)
@given(text=outputs())
def test_the_shape_reading_gives_what_the_token_rule_gives(text: str) -> None:
    assert outcome(lambda: reader_values(text)) == outcome(lambda: rule_values(text))
    expected = (by_rule(b, "JobId") for b in blocks(text, "JobId"))
    assert outcome(lambda: records(text, "JobId")) == outcome(
        lambda: [r for r in expected if r is not None]
    )


def test_a_key_given_twice_keeps_its_last_value_on_every_line_of_a_shape() -> None:
    text = "\n".join(f"JobId={i} NumCPUs=2 JobState=PENDING NumCPUs={i + 4}" for i in range(3))
    jobs, _ = parse_scontrol_jobs(text)
    assert [job.cores for job in jobs] == [4, 5, 6]


def test_a_line_with_a_learned_count_of_spaces_but_a_value_with_a_space() -> None:
    text = (
        "JobId=1 Comment=x JobState=PENDING Reason=Priority NumCPUs=2\n"
        "JobId=2 Comment=x y JobState=PENDING Reason=Priority\n"  # as many spaces
        "JobId=3 Comment=x JobState=PENDING Reason=Not responding\n"
    )
    jobs, _ = parse_scontrol_jobs(text)
    assert [(j.id, j.cores, j.reason) for j in jobs] == [
        ("1", 2, "Priority"),
        ("2", 1, "Priority"),
        ("3", 1, "Not"),
    ]


def test_whitespace_other_than_one_space_still_separates_tokens() -> None:
    text = (
        "JobId=1 JobState=PENDING NumCPUs=2 TimeLimit=01:00:00\n"
        "JobId=2 JobState=PENDING NumCPUs=3\tTimeLimit=02:00:00\n"  # a tab between tokens
        "JobId=3 JobState=PENDING NumCPUs=4  TimeLimit=03:00:00\n"  # two spaces
        "JobId=4 JobState=PENDING\xa0NumCPUs=5 TimeLimit=04:00:00\n"  # a no-break space
    )
    jobs, _ = parse_scontrol_jobs(text)
    assert [(j.cores, j.walltime_s) for j in jobs] == [(2, 3600), (3, 7200), (4, 10800), (5, 14400)]


def test_a_word_that_is_no_token_stays_in_the_value_before_it() -> None:
    text = "JobId=1 JobState=PENDING Features=a (b=c) NumCPUs=2\n"
    jobs, _ = parse_scontrol_jobs(text * 2)
    assert [(j.features, j.cores) for j in jobs] == [(("a (b=c)",), 2)] * 2


def test_lines_past_the_learned_shapes_are_read_by_the_token_rule() -> None:
    extra = [f"K{i}=v" for i in range(SHAPES + 4)]
    text = "\n".join(
        f"JobId={i} {' '.join(extra[: i + 1])} JobState=PENDING NumCPUs={i + 1}"
        for i in range(SHAPES + 4)
    )
    reader = FieldReader("JobId", JOB_FIELDS)
    values = [reader.values(block) for block in blocks(text, "JobId")]
    assert reader.learned == SHAPES
    assert values == list(rule_values(text))
    assert [v[2] for v in values if v is not None] == [str(i + 1) for i in range(SHAPES + 4)]


def test_memo_converts_each_text_once_and_stores_no_more_than_its_limit() -> None:
    calls: list[str] = []

    def convert(text: str) -> int:
        calls.append(text)
        return len(text)

    memo = Memo(convert, limit=2)
    assert [memo["a"], memo["bb"], memo["a"], memo["ccc"], memo["ccc"]] == [1, 2, 1, 3, 3]
    assert calls == ["a", "bb", "ccc", "ccc"]  # the third text is past the limit: not kept
    assert len(memo) == 2


def test_memo_keeps_nothing_of_a_conversion_that_raises() -> None:
    def convert(text: str) -> int:
        raise LRMParseError(text)

    memo = Memo(convert)
    for _ in range(2):
        with pytest.raises(LRMParseError):
            memo["x"]
    assert not memo


def test_each_record_gets_its_own_conversions() -> None:
    text = (
        "JobId=1 JobState=PENDING NumCPUs=2 MinMemoryNode=1G TimeLimit=01:00:00 "
        "UserId=a(1) SubmitTime=2026-01-01T00:00:00 Reason=Priority Features=x\n"
        "JobId=2 JobState=PENDING NumCPUs=4 MinMemoryNode=2G TimeLimit=02:00:00 "
        "UserId=b(2) SubmitTime=2026-01-01T00:00:01 Reason=Dependency Features=y\n"
        "JobId=3 JobState=PENDING NumCPUs=2 MinMemoryNode=1G TimeLimit=01:00:00 "
        "UserId=a(1) SubmitTime=2026-01-01T00:00:00 Reason=Priority Features=x\n"
    )
    one, two, three = parse_scontrol_jobs(text)[0]
    assert (one.cores, one.memory_mb, one.walltime_s, one.user) == (2, 1024, 3600, "a")
    assert (two.cores, two.memory_mb, two.walltime_s, two.user) == (4, 2048, 7200, "b")
    assert (one.runnable, two.runnable, one.features, two.features) == (True, False, ("x",), ("y",))
    assert two.submit_time is not None and one.submit_time == two.submit_time - 1
    assert (three.cores, three.memory_mb, three.submit_time) == (2, 1024, one.submit_time)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def test_conversions_are_not_kept_from_one_output_to_the_next(zone: pytest.MonkeyPatch) -> None:
    """A local stamp read in UTC, then in UTC+9: the second output is read anew."""
    text = "JobId=1 JobState=PENDING SubmitTime=2026-01-01T09:00:00\n"
    stamps = []
    for tz in ("UTC", "Asia/Tokyo"):
        zone.setenv("TZ", tz)
        time.tzset()
        stamps.append(parse_scontrol_jobs(text)[0][0].submit_time)
    assert stamps == [1767258000.0, 1767258000.0 - 9 * 3600]


def test_a_record_starts_after_any_whitespace_on_the_line_of_another() -> None:
    """``ArrayJobId=`` holds the text ``JobId=`` but starts no record; a tab does."""
    text = "JobId=1 ArrayJobId=1 JobState=PENDING\tJobId=2 ArrayJobId=1 JobState=RUNNING\n"
    assert [r["JobId"] for r in records(text, "JobId")] == ["1", "2"]
    assert [v[:2] if v else v for v in reader_values(text)] == [("1", "PENDING"), ("2", "RUNNING")]
