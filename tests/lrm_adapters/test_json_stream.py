"""squeue --json and PBS qstat -F json read in chunks (lrm_adapters/_json_stream.py): the
same jobs as ``json.loads`` of the whole text wherever a chunk ends (inside a string, a
number, an escape, a UTF-8 sequence), the same refusals of garbled and truncated JSON, and
a working memory that stays flat as the output grows."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrm_adapters._json_stream import array_members, object_members
from lrm_adapters._stream import decoded
from lrm_adapters.base import LRMParseError
from lrm_adapters.pbs_parse import parse_qstat_json
from lrm_adapters.slurm_parse import parse_squeue_json
from tests.lrm_adapters.fuzz_support import mutated

FIXTURES = Path(__file__).parent.parent / "fixtures"
SQUEUE = [
    "slurm/rivos_squeue_json_21.08_v0.0.37.json",
    "slurm/debian_slurm2205_squeue_json_v0.0.38.json",
    "slurm/slurmweb_slurmrestd_25.05_v0.0.41_jobs.json",
]
QSTAT = [
    "pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json",
    "pbspro/aurora_qstat_x_f_F_json_2022.1.7.json",
]
SIZES = [1, 2, 3, 7, 64, 4096, 1 << 16]
#: a job's name as a real queue may hold it: escapes, accents, an astral character
#: (a surrogate pair when escaped), a number-looking tail
ODD_NAME = '"q\\"uo\\\\te\\/\\n\\t\\u00e9t\\u00E9 \\ud83d\\ude00 caf\u00e9 \U0001f600 -1.5e+3"'


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def squeue_jobs(source: Any) -> list[Any]:
    return list(array_members(source, "jobs", "squeue --json"))


def qstat_jobs(source: Any) -> list[Any]:
    return list(object_members(source, "Jobs", "qstat -F json"))


def loaded_jobs(text: str) -> list[Any]:
    return list(json.loads(text).get("jobs") or [])


def loaded_pairs(text: str) -> list[Any]:
    return list((json.loads(text).get("Jobs") or {}).items())


READERS: list[tuple[str, Callable[[Any], list[Any]], Callable[[str], list[Any]], Any]] = [
    *((f, squeue_jobs, loaded_jobs, parse_squeue_json) for f in SQUEUE),
    *((f, qstat_jobs, loaded_pairs, parse_qstat_json) for f in QSTAT),
]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize(
    ("fixture", "read", "load", "parse"), READERS, ids=[r[0].split("/")[1] for r in READERS]
)
def test_real_outputs_in_chunks_of_any_size_read_as_loaded_whole(
    fixture: str, read: Any, load: Any, parse: Any, size: int
) -> None:
    data = (FIXTURES / fixture).read_bytes()
    whole = load(data.decode())
    assert whole  # the capture has jobs to compare
    assert read(decoded(pieces(data, size))) == whole
    assert read(data.decode()) == whole
    jobs = parse(data.decode())
    assert jobs[0]  # a job kept, not only the finished ones dropped
    assert parse(decoded(pieces(data, size))) == jobs


def odd_squeue() -> str:
    """The 21.08 capture with its first job's name and numbers made awkward to cut."""
    text = (FIXTURES / SQUEUE[0]).read_text()
    name = json.loads(text)["jobs"][0]["name"]
    odd = text.replace(json.dumps(name), ODD_NAME, 1)
    odd = odd.replace('"priority": ', '"priority": -12345.678e-2, "prio": ', 1)
    assert odd.count(ODD_NAME) == 1 and "-12345.678e-2" in odd
    return odd.replace('"meta": {', '"meta": {"weird": [NaN, -Infinity, true, false, null],', 1)


def test_every_cut_through_strings_escapes_numbers_and_utf8_reads_the_same() -> None:
    """Two chunks, cut at every byte of the awkward parts (inside the escapes, the
    surrogate pair, a 4-byte UTF-8 character, the numbers, the literals, the whitespace
    between tokens) and at every 7th byte elsewhere."""
    data = odd_squeue().encode()
    whole = loaded_jobs(data.decode())
    assert "\U0001f600" in whole[0]["name"] and whole[0]["priority"] == -123.45678
    odd = [data.index(part) for part in (ODD_NAME.encode(), b"-12345", b'"weird"')]
    cuts = {*range(0, len(data), 7), *(c for at in odd for c in range(at - 8, at + 90))}
    for cut in sorted(cuts):
        assert squeue_jobs(decoded([data[:cut], data[cut:]])) == whole, cut
    jobs = parse_squeue_json(data.decode())
    assert parse_squeue_json(decoded(pieces(data, 1))) == jobs


def test_every_cut_through_pbs_job_ids_with_escapes_reads_the_same() -> None:
    """PBS's job ids are the Jobs object's names: escaped ones are decoded, not copied."""
    text = (FIXTURES / QSTAT[0]).read_text()
    odd = text.replace('"1004.pbs"', '"10\\u0030\\"4.p\\\\bsé"', 1)
    odd = odd.replace('"Jobs":{', '"Jobs":{ "1\\/2" : {"job_state": "Q"} ,\n', 1)
    data = odd.encode()
    whole = loaded_pairs(odd)
    assert [name for name, _ in whole[:2]] == ["1/2", '100"4.p\\bsé']
    for cut in range(len(data)):
        assert qstat_jobs(decoded([data[:cut], data[cut:]])) == whole, cut


def test_a_number_cut_at_a_chunk_end_is_read_whole() -> None:
    """``12`` decodes as a number on its own: it is taken only once ``3,`` has come."""
    chunks = ['{"jobs": [12', "3", ".5", "e1", ", -", "7]", ', "n": 4', "2}"]
    assert squeue_jobs(chunks) == [1235.0, -7]
    assert qstat_jobs(['{"Jobs": {"a": 1', "0", "}}"]) == [("a", 10)]


def test_other_top_level_members_are_skipped_wherever_they_are() -> None:
    text = '{"meta": {"a": [1, {"jobs": 5}]}, "jobs": [{"x": 1}], "errors": [], "w": "}"}'
    assert squeue_jobs(text) == [{"x": 1}]
    assert squeue_jobs(' \n\t{ "jobs" : [ 1 , 2 ] } \r\n') == [1, 2]
    assert squeue_jobs('{"meta": {}}') == squeue_jobs('{"jobs": null}') == []
    assert squeue_jobs("{}") == squeue_jobs('{"jobs": []}') == []
    assert qstat_jobs('{"timestamp": 1, "Jobs": {}}') == qstat_jobs('{"Jobs": null}') == []


GARBLED = [
    "",
    "   ",
    "{not json",
    "[1, 2]",
    "5",
    "{",
    '{"jobs": 5}',
    '{"jobs": "x"}',
    '{"jobs": {"a": 1}}',
    '{"jobs": [1, 2}',
    '{"jobs": [1 2]}',
    '{"jobs": [1,]}',
    '{"jobs": [1.]}',
    '{"jobs": [01]}',
    '{"jobs": [tru]}',
    '{"jobs": ["a\\x"]}',
    '{"jobs": ["\\ud83"]}',
    '{"jobs": [], }',
    '{"jobs": []} x',
    '{"jobs": []}}',
    '{"jobs": [], "jobs": []}',
    "{jobs: []}",
    '{"jobs" []}',
    '{"jobs": [' + "[" * 5000 + "]" * 5000 + "]}",
    '{"jobs": [' + "9" * 5000 + "]}",
]


@pytest.mark.parametrize("size", [1, 3, 1 << 20])
@pytest.mark.parametrize("text", GARBLED, ids=range(len(GARBLED)))
def test_garbled_json_is_a_parse_error(text: str, size: int) -> None:
    chunks = [text[i : i + size] for i in range(0, len(text), size)]
    with pytest.raises(LRMParseError) as caught:
        squeue_jobs(chunks)
    with pytest.raises(LRMParseError) as whole:
        squeue_jobs(text)
    assert str(caught.value) == str(whole.value)  # the same place named, chunks or not


GARBLED_PBS = [
    '{"Jobs": [1]}',
    '{"Jobs": 5}',
    '{"Jobs": {"a" 1}}',
    '{"Jobs": {1: 2}}',
    '{"Jobs": {"a": 1,}}',
    '{"Jobs": {"a": 1]}',
    '{"Jobs": {"a": 1}, "Jobs": {}}',
    '{"Jobs": {"a": {"b": 1}}',
    '{"Jobs": {"a": {"b": 1}}} []',
]


@pytest.mark.parametrize("size", [1, 3, 1 << 20])
@pytest.mark.parametrize("text", GARBLED_PBS, ids=range(len(GARBLED_PBS)))
def test_garbled_pbs_json_is_a_parse_error(text: str, size: int) -> None:
    with pytest.raises(LRMParseError) as caught:
        qstat_jobs(text[i : i + size] for i in range(0, len(text), size))
    with pytest.raises(LRMParseError) as whole:
        qstat_jobs(text)
    assert str(caught.value) == str(whole.value)


@pytest.mark.parametrize("garbled", ['{"jobs": ["x"]}', '{"jobs": [{}, 5]}'])
def test_a_job_that_is_not_an_object_is_refused_by_the_parser(garbled: str) -> None:
    with pytest.raises(LRMParseError, match="not a list of objects"):
        parse_squeue_json(iter([garbled[:9], garbled[9:]]))
    with pytest.raises(LRMParseError, match="no Jobs table"):
        parse_qstat_json('{"Jobs": {"1.s": {"job_state": "Q"}, "2.s": 2}}')


class Endless:
    """An output that never ends, counting the chunks a reader has pulled from it."""

    def __init__(self, head: str, chunk: str) -> None:
        self.head, self.chunk, self.pulled = head, chunk, 0

    def __iter__(self) -> Iterator[str]:
        yield self.head
        for _ in range(10**7):  # a reader waiting for the end would take minutes
            self.pulled += 1
            yield self.chunk


@pytest.mark.parametrize(
    "head",
    ['{"jobs": [{"a": 1} {"b": 2}, ', '{"jobs": [{"a": 1x}, ', '{"jobs": [{"a": "\\q"}, '],
    ids=["no comma", "bad number", "bad escape"],
)
def test_garbled_json_is_refused_without_reading_on(head: str) -> None:
    """Only a failure at the buffer's end waits for more text; one further back is
    garbage whatever follows, so the rest of a broken output is not read into memory."""
    source = Endless(head + '{"job_id": 1}, ' * 10, '{"job_id": 1}, ' * 100)
    with pytest.raises(LRMParseError):
        squeue_jobs(source)
    assert source.pulled <= 1


def test_a_job_longer_than_many_chunks_is_decoded_a_few_times_not_once_a_chunk(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 4 MB job in 1 KB chunks: decoding it again as each chunk came would scan ~8 GB;
    the unconsumed text doubling between tries scans it ~2x in a dozen decodes."""
    from lrm_adapters import _json_stream

    decodes: list[int] = []
    real = _json_stream._DECODE

    def counted(text: str, pos: int) -> tuple[Any, int]:
        decodes.append(pos)
        return real(text, pos)

    monkeypatch.setattr(_json_stream, "_DECODE", counted)
    text = '{"jobs": [{"comment": "' + "x" * 4_000_000 + '"}, {"b": 1}]}'
    chunks = (text[i : i + 1000] for i in range(0, len(text), 1000))
    assert [len(j.get("comment", "")) for j in squeue_jobs(chunks)] == [4_000_000, 0]
    assert len(decodes) < 20


@pytest.mark.parametrize(
    ("fixture", "read"), [(SQUEUE[0], squeue_jobs), (QSTAT[0], qstat_jobs)], ids=["squeue", "qstat"]
)
def test_every_truncation_of_a_real_output_is_a_parse_error(fixture: str, read: Any) -> None:
    """A command killed mid-output, cut at every 3rd character and each of the last 64
    (the whitespace after the last brace aside, which a complete document may lack)."""
    text = (FIXTURES / fixture).read_text()
    end = len(text.rstrip())
    for cut in sorted({*range(0, end, 3), *range(end - 64, end)}):
        with pytest.raises(LRMParseError):
            read([text[: cut // 2], text[cut // 2 : cut]])
    assert read([text[: end // 2], text[end // 2 : end]])


def reference(text: str, key: str) -> list[Any] | None:
    """What ``json.loads`` makes of the text (None: refused), read the way the parsers
    read it before they streamed; ``key`` given twice at the top level is refused."""
    try:
        data = json.loads(text, object_pairs_hook=Pairs)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, Pairs) or [k for k, _ in data.pairs].count(key) > 1:
        return None
    value = data.get(key)
    if value is None:
        return []
    if key == "jobs":
        return value if isinstance(value, list) else None
    return list(value.pairs) if isinstance(value, Pairs) else None  # a name twice: twice


class Pairs(dict[str, Any]):
    """A JSON object as json.loads makes it, with its members in the document's order."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_real_outputs_read_as_json_loads_reads_them(data: st.DataObject) -> None:
    """Byte flips, cuts, deleted and duplicated lines of the captures: whatever json.loads
    accepts comes out the same in chunks of any size; whatever it refuses is refused."""
    fixture = data.draw(st.sampled_from(SQUEUE[:2] + QSTAT), label="capture")
    mutant = data.draw(mutated((FIXTURES / fixture).read_bytes()), label="mutant")
    size = data.draw(st.sampled_from([1, 2, 5, 64, 1000, 1 << 20]), label="size")
    text = mutant.decode("utf-8", errors="replace")
    key, read = ("jobs", squeue_jobs) if fixture.startswith("slurm") else ("Jobs", qstat_jobs)
    expected = reference(text, key)
    try:
        got = read(decoded(pieces(mutant, size)))
    except LRMParseError:
        assert expected is None, "refused what json.loads reads"
    else:
        assert got == expected


# --- working memory ----------------------------------------------------------------------


def squeue_output(jobs: int) -> Iterator[bytes]:
    """A generated squeue --json (v0.0.41 shapes), ~64 KB bytes chunks as they come: the
    output itself is never held, so what is traced is the parser's own memory."""
    yield b'{"meta": {"plugin": {"type": "openapi/slurmctld"}}, "jobs": ['
    batch: list[str] = []
    for i in range(jobs):
        record = {
            "job_id": i,
            "job_state": ["PENDING"],
            "state_reason": "Priority",
            "cpus": {"set": True, "infinite": False, "number": 4},
            "comment": "c" * 400,  # read by nothing: each job's text far bigger than its Job
        }
        batch.append(("," if i else "") + json.dumps(record))
        if len(batch) == 100:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + '], "errors": [], "warnings": []}').encode()


def qstat_output(jobs: int) -> Iterator[bytes]:
    yield b'{"timestamp": 1750369865, "pbs_version": "23.06.06", "Jobs": {'
    batch: list[str] = []
    for i in range(jobs):
        record = {"job_state": "Q", "Resource_List": {"ncpus": 4}, "Output_Path": "o" * 400}
        batch.append(("," if i else "") + f'"{i}.pbs": ' + json.dumps(record))
        if len(batch) == 100:
            yield "".join(batch).encode()
            batch = []
    yield ("".join(batch) + "}}").encode()


def loaded_whole(parse: Callable[[Any], Any]) -> Callable[[Iterable[str]], Any]:
    """The control: the same parser given the text joined first, as json.loads needs it."""
    return lambda chunks: parse("".join(chunks))


def given_whole(parse: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The parser given one whole text (a test's, a recording runner's): marked for
    ``working_mb`` to join before tracing, as the caller holds the text already."""
    whole: Any = lambda text: parse(text)  # noqa: E731
    whole.whole = True
    return cast(Callable[[Any], Any], whole)


def working_mb(make: Callable[[int], Iterator[bytes]], parse: Any, jobs: int) -> float:
    """tracemalloc's peak less what the returned jobs hold: what the parse needed."""
    source: Any = decoded(make(jobs))
    if getattr(parse, "whole", False):
        source = "".join(source)
    tracemalloc.start()
    try:
        result = parse(source)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result[0]) == jobs
    return (peak - kept) / 1e6


@pytest.mark.parametrize(
    ("make", "parse", "flat"),
    [
        (squeue_output, parse_squeue_json, True),
        (qstat_output, parse_qstat_json, True),
        (squeue_output, given_whole(parse_squeue_json), True),  # the text is not copied
        (squeue_output, loaded_whole(parse_squeue_json), False),
    ],
    ids=[
        "squeue --json",
        "qstat -F json",
        "squeue --json given whole",
        "control: squeue --json joined whole",
    ],
)
def test_working_memory_stays_flat_as_the_output_grows(make: Any, parse: Any, flat: bool) -> None:
    """500 then 5,000 jobs (0.25 then 2.5 MB of output): a stream parse needs a chunk and
    a job whatever the size (~0.3 MB); one whole document (the control) ~10x more at 10x."""
    small, big = working_mb(make, parse, 500), working_mb(make, parse, 5000)
    if flat:
        assert big < 1.5 * small + 0.2, f"{small:.2f} MB at 500 jobs, {big:.2f} MB at 5k"
    else:
        assert big > 5 * small, f"the control grew only from {small:.2f} to {big:.2f} MB"
