"""The SWF reader on real Parallel Workloads Archive excerpts (tests/fixtures/swf)."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.swf import parse_swf, parse_swf_line, read_swf

FIXTURES = Path(__file__).parent.parent / "fixtures" / "swf"


def test_headerless_excerpt_with_fractional_fields():
    jobs = read_swf(FIXTURES / "accasim_workload_snippet.swf")
    assert len(jobs) == 25
    first = jobs[0]
    assert first.job.id == "184" and first.job.cores == 16 and first.runtime_s == 61
    assert first.job.memory_mb == 819200 * 16 // 1024  # requested KB per processor
    assert first.job.walltime_s == 43200 and first.job.user == "6"
    assert jobs[11].job.id == "5664" and jobs[11].runtime_s == 18


def test_full_header_and_status_zero_records():
    jobs = read_swf(FIXTURES / "gridsim_LANL-O2K_excerpt.swf")
    assert len(jobs) == 10
    assert {j.status for j in jobs} >= {0}
    assert all(j.job.cores > 0 for j in jobs)


def test_comments_blank_and_unknown_records_are_skipped():
    lines = ["; Version: 2.2", "", "1 0 5 -1 4 -1 -1 4 -1 -1 1 1 1 -1 1 -1 -1 -1"]
    assert list(parse_swf(lines)) == []
    assert parse_swf_line("2 10 0 30 -1 -1 -1 8 60 -1 1 3 4 -1 2 -1 -1 -1").job.cores == 8


def test_a_short_record_is_an_error_with_its_line():
    with pytest.raises(ValueError, match="line 2: SWF record has 3 fields"):
        list(parse_swf(["; x", "1 2 3"]))
