"""Submission and start stamps as every LRM prints them, to epoch seconds.

Stamps without a zone are local time: the expected values are built the same way
(``datetime(...).timestamp()``), so the tests hold in any TZ.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from lrm_adapters._times import epoch
from lrm_adapters.pbs_parse import parse_qstat_json
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_parse import parse_squeue_json
from lrm_adapters.slurm_text import parse_scontrol_jobs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def local(*fields: int) -> float:
    return datetime(*fields).timestamp()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1548935890", 1548935890.0),
        ("1548935890123", 1548935890.123),  # milliseconds
        ("2010-07-08T04:40:46", local(2010, 7, 8, 4, 40, 46)),
        ("Sat Apr 20 01:36:59 2013", local(2013, 4, 20, 1, 36, 59)),
        ("Tue Apr  9 18:26:32 2013", local(2013, 4, 9, 18, 26, 32)),
        ("", None),
        (None, None),
        ("Unknown", None),
        ("N/A", None),
    ],
)
def test_stamps(text, expected):
    assert epoch(text) == (pytest.approx(expected) if expected else None)


def test_sge_running_jobs_carry_their_start():
    result = parse_qstat_xml(
        (FIXTURES / "sge/starcluster_qstat_f_u_all_xml_loaded.xml").read_bytes()
    )
    running = [j for j in result.jobs if j.running]
    assert running and running[0].start_time == local(2010, 7, 8, 4, 40, 46)
    assert all(j.start_time is None for j in result.jobs if not j.running)


def test_pbs_submit_and_start():
    text = (FIXTURES / "pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json").read_text()
    (job,) = parse_qstat_json(text)[0]
    assert job.running and job.start_time is not None and job.submit_time is not None
    assert job.start_time >= job.submit_time


def test_slurm_json_and_text_starts_of_running_jobs():
    text = (FIXTURES / "slurm/debian_slurm2205_squeue_json_v0.0.38.json").read_text()
    jobs, _ = parse_squeue_json(text)
    assert all(j.submit_time for j in jobs) and all(j.start_time is None for j in jobs)
    lines = (FIXTURES / "slurm/clues_scontrol_o_show_jobs_20.02.txt").read_text()
    running, pending = parse_scontrol_jobs(lines)[0]
    assert running.start_time == local(2022, 2, 8, 8, 6, 14)
    assert pending.start_time is None and pending.submit_time == local(2022, 2, 8, 8, 6, 13)
