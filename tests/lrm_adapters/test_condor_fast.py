"""``condor_q -long`` ads of literals read without classad2 (lrm_adapters.htcondor_plain)
give exactly the jobs, nodes and values the classad2 path gives.

The reference is the reading as ``iter_long_output`` did it before the fast path: each ad's
text through ``classad2.parseNext``, then ``job_from_ad`` / ``nodes_from_ads`` on the
ClassAd. Inputs: the real HTCondor captures under tests/fixtures/htcondor (whole, and
projected to their plain-literal lines, as ``condor_q -long -attributes`` prints them),
the JSON capture written out as ``-long`` lines, generated ads, and ads mutated into every
shape the fast path must leave to classad2 (expressions, reals, escapes, odd spacing,
duplicates, names in another case, garbage lines classad2 drops, numbers past 64 bits).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import classad2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.bench_controller import condor_ads
from lrm_adapters._stream import decoded
from lrm_adapters.base import LRMParseError
from lrm_adapters.htcondor import (
    JOB_ATTRS,
    _ad_texts,
    iter_long_output,
    job_from_ad,
    nodes_from_ads,
)
from lrm_adapters.htcondor_plain import PlainAd, read_plain

FIXTURES = Path(__file__).parent.parent / "fixtures" / "htcondor"
TEXT_FIXTURES = sorted(FIXTURES.glob("*.txt"))


def classad_ads(text: Any) -> list[Any]:
    """The ads as the classad2 path reads them (iter_long_output before the fast path)."""
    ads = []
    for chunk in _ad_texts(text):
        try:
            ad = classad2.parseNext(chunk)
        except Exception as exc:
            raise LRMParseError(f"unreadable ClassAd: {exc}") from exc
        if ad is None:
            raise LRMParseError(f"unreadable ClassAd: {chunk[:200]!r}")
        ads.append(ad)
    return ads


def reading(ads: Any) -> Any:
    """What the adapter makes of the ads: jobs (or the error), nodes (or the error), as
    their reprs, so that ``cores=True`` is not taken for ``cores=1``."""
    try:
        listed = list(ads())
    except LRMParseError as exc:
        return ("refused", str(exc))
    out: list[Any] = []
    for build in (lambda: [job_from_ad(a) for a in listed], lambda: nodes_from_ads(listed)):
        try:
            out.append(repr(build()))
        except Exception as exc:  # the same error either way is the same reading
            out.append(("raised", type(exc).__name__, str(exc)))
    return out


def same_reading(text: str) -> list[Any]:
    fast = reading(lambda: iter_long_output(text))
    assert fast == reading(lambda: classad_ads(text))
    # in chunks too (where a lone \r stays in its line: whole texts cut as splitlines does)
    chunks = [text[i : i + 7] for i in range(0, len(text), 7)]
    assert reading(lambda: iter_long_output(chunks)) == reading(lambda: classad_ads(chunks))
    return list(iter_long_output(text)) if fast[0] != "refused" else []


NAMES = [
    *JOB_ATTRS,  # what the job query asks for; then what job_from_ad and nodes_from_ads read
    "RemoteHost",
    "Cpus",
    "Memory",
    "State",
    "SlotType",
    "Machine",
    "Name",
    "ElasticNodeId",
    "ElasticVO",
]
#: names classad2's old-format parser takes as attributes although its lexer knows them
ODD_NAMES = ["_", "a_1", "true", "False", "undefined", "error", "isnt", "MY", "TARGET", "A" * 300]


def plain_lines(text: str) -> list[str]:
    """The plain-literal lines, new-format ones (``    A = 1;``) written as ``-long`` does."""
    lines = (line.strip().removesuffix(";") for line in text.splitlines())
    return [line for line in lines if read_plain(line) is not None]


# -- real captures -----------------------------------------------------------------


@pytest.mark.parametrize("path", TEXT_FIXTURES, ids=[p.name for p in TEXT_FIXTURES])
def test_every_real_capture_reads_the_same(path: Path) -> None:
    same_reading(path.read_text())


@pytest.mark.parametrize("path", TEXT_FIXTURES, ids=[p.name for p in TEXT_FIXTURES])
def test_real_captures_projected_to_their_literals_take_the_fast_path(path: Path) -> None:
    """A capture's plain lines, ad by ad, as a projection (``-attributes``) prints them."""
    ads = [plain_lines(ad) for ad in _ad_texts(path.read_text())]
    text = "\n\n".join("\n".join(lines) for lines in ads if lines) + "\n"
    read = same_reading(text)
    assert read and all(type(ad) is PlainAd for ad in read)
    assert any(len(ad.values) > 3 for ad in read)


def test_the_json_capture_as_long_lines_reads_the_same() -> None:
    """The clas12 running job (RemoteHost, JobCurrentStartDate) as ``-long`` prints it."""
    (job,) = json.loads((FIXTURES / "clas12_condor_q_nobatch_json_one_job_8.8.json").read_text())
    lines = []
    for name, value in job.items():
        if isinstance(value, bool):
            lines.append(f"{name} = {str(value).lower()}")
        elif isinstance(value, int | str):
            lines.append(f"{name} = {json.dumps(value)}")
    (ad,) = same_reading("\n".join(plain_lines("\n".join(lines))))
    assert type(ad) is PlainAd
    got = job_from_ad(ad)
    assert (got.running, got.hosts, got.start_time) == (
        True,
        ("CRUSH-OSG-C7-10-5-219-52",),
        1617115471.0,
    )


# -- generated ads -----------------------------------------------------------------

PLAIN_VALUES = st.one_of(
    st.integers(-(10**18) + 1, 10**18 - 1).map(str),
    st.sampled_from(["0", "1", "2", "5", "-1", "4", "8000"]),
    st.text(
        st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\\\u2028\u2029'),
        max_size=12,
    ).map(lambda s: f'"{s}"'),
    st.sampled_from(['""', '"vo1"', '"group_atlas.alice"', '"u@h"', '"slot1@m1"', '"0"']),
    st.sampled_from(["true", "false", "TRUE", "False", "tRuE"]),
)
OTHER_VALUES = st.sampled_from(
    [
        "1.5",
        "0.0",
        "1e3",
        "-0",
        "007",
        "+3",
        "0x1F",
        "9223372036854775808",
        "99999999999999999999",
        "-9223372036854775808",
        "undefined",
        "error",
        '"x\\"y"',
        '"a\\nb"',
        '"tab\there"',
        '"a\x00b"',
        '"\ud800"',
        '"x""y"',
        '"x" "y"',
        '"http://h/x"',
        "2 * 4",
        "ifThenElse(MemoryUsage > 0, MemoryUsage, 2048)",
        "ifThenElse(true, 4096, 1)",
        "Owner",
        "{ 1, 2 }",
        "[ a = 1 ]",
        "",
        "1 // comment",
    ]
)
ODD_LINES = st.sampled_from(
    ["garbage", "# comment", "A=1", " A = 1", "A = 1 ", "A  = 1", "1A = 1", "a.b = 1", "A = 1\r"]
)


@st.composite
def ads(draw: st.DrawFn, plain: bool) -> str:
    values = PLAIN_VALUES if plain else st.one_of(PLAIN_VALUES, OTHER_VALUES)
    names = st.sampled_from(NAMES + ODD_NAMES) | st.sampled_from(NAMES).flatmap(
        lambda n: st.sampled_from([n.lower(), n.upper(), n.swapcase()])
    )
    lines = draw(
        st.lists(st.builds(lambda n, v: f"{n} = {v}", names, values), min_size=1, max_size=12)
    )
    if not plain and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(ODD_LINES))
    return "\n".join(lines)


@settings(
    max_examples=600, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(texts=st.lists(ads(plain=False), min_size=1, max_size=4))
def test_generated_and_mutated_ads_read_the_same(texts: list[str]) -> None:
    same_reading("\n\n".join(texts))


@settings(max_examples=300, deadline=None, database=None)
@given(texts=st.lists(ads(plain=True), min_size=1, max_size=4))
def test_ads_of_literals_take_the_fast_path_and_read_the_same(texts: list[str]) -> None:
    """Names in any case and assigned twice (the last wins) included."""
    read = same_reading("\n\n".join(texts))
    assert len(read) == len(texts) and all(type(ad) is PlainAd for ad in read)
    for text, ad in zip(texts, read, strict=True):
        reference = classad2.parseNext(text)
        for name in {line.split(" = ")[0] for line in text.split("\n")} | set(NAMES):
            for spelled in (name, name.lower(), name.upper()):
                assert ad.get(spelled, "missing") == reference.get(spelled, "missing")
                assert (spelled in ad) == (spelled in reference)
        assert len(ad) == len(reference) and sorted(ad) == sorted(reference)
        assert str(ad) == str(reference)


# -- the mutations named one by one ------------------------------------------------

BASE = [
    "ClusterId = 7",
    "ProcId = 3",
    "JobStatus = 1",
    "RequestCpus = 4",
    "RequestMemory = 8000",
    'AcctGroup = "atlas"',
    'Owner = "alice"',
    "QDate = 1700000000",
]
MUTATIONS = {
    "expression for memory": ("RequestMemory = ifThenElse(MemoryUsage > 0, 1, 2048)", False),
    "evaluable expression": ("RequestCpus = 2 * 4", False),
    "a real": ("RequestMemory = 2048.5", False),
    "undefined": ("RequestCpus = undefined", False),
    "escaped string": ('Owner = "al\\"ice"', False),
    "a number past 64 bits (classad2 reads 0)": ("RequestMemory = 99999999999999999999", False),
    "a line classad2 drops": ("not an attribute", False),
    "no spaces around =": ("RequestCpus=8", False),
    "duplicated, the last wins": ("RequestCpus = 16", True),
    "duplicated in another case": ("requestcpus = 2", True),
    "a name in another case": ("JOBSTATUS = 5", True),
    "held with its reason": ('HoldReason = "disk full"', True),
    "a string where a number goes": ('RequestCpus = "8"', True),
    "a boolean where a number goes": ("RequestMemory = true", True),
    "an accounting group and no AcctGroup": ('AccountingGroup = "group_cms.bob"', True),
    "running on a host": ('RemoteHost = "slot1@node7"', True),
}


@pytest.mark.parametrize(("line", "fast"), MUTATIONS.values(), ids=MUTATIONS.keys())
def test_each_mutation_reads_the_same_and_takes_the_path_it_should(line: str, fast: bool) -> None:
    """Each placed last and first (a garbage line first is classad2's refusal, both ways)."""
    (ad,) = same_reading("\n".join([*BASE, line]))
    assert (type(ad) is PlainAd) is fast
    for first in same_reading("\n".join([line, *BASE])):
        assert (type(first) is PlainAd) is fast


@pytest.mark.parametrize("missing", BASE, ids=[line.split(" ")[0] for line in BASE])
def test_a_missing_attribute_reads_the_same(missing: str) -> None:
    (ad,) = same_reading("\n".join(line for line in BASE if line != missing))
    assert type(ad) is PlainAd


def test_a_running_job_with_its_limit_reads_the_same() -> None:
    text = "\n".join(
        [*BASE, "JobStatus = 2", "JobCurrentStartDate = 1700000100", "AllowedJobDuration = 600"]
    )
    (ad,) = same_reading(text)
    job = job_from_ad(ad)
    assert (job.running, job.start_time, job.walltime_s) == (True, 1700000100.0, 600)


# -- the fast path is taken --------------------------------------------------------


def test_the_benchmark_listing_is_read_without_classad2() -> None:
    """Every ad of the bench's listing is a PlainAd, and building its job parses nothing
    with classad2: a fast path silently not taken fails here, not just in the timings."""
    ads = list(iter_long_output(decoded(condor_ads(2000))))
    assert len(ads) == 2000 and all(type(ad) is PlainAd for ad in ads)
    jobs = [job_from_ad(ad) for ad in ads]
    assert all(ad._classad is None for ad in ads)
    assert jobs == [job_from_ad(ad) for ad in classad_ads(decoded(condor_ads(2000)))]
