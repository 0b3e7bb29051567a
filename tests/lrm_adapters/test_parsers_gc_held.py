"""The streamed job parsers hold the cyclic collector off while they read (``collector_held``):
the output's chunks are asked for with it off, and it is on again after, also after a
parse error."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from lrm_adapters.base import LRMParseError
from lrm_adapters.pbs_parse import parse_qstat_text
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_text import parse_scontrol_jobs

SGE = b"<job_info><job_info><job_list state='pending'><JB_job_number>1</JB_job_number>"
SGE_END = b"<state>qw</state></job_list></job_info></job_info>"
SLURM = "JobId=1 JobState=PENDING NumCPUs=2\n"
PBS = "Job Id: 1.server\n    job_state = Q\n"
PARSERS: list[tuple[str, Callable[[Any], object], list[Any], list[Any]]] = [
    ("sge", parse_qstat_xml, [SGE, SGE_END], [SGE, b"<garbled"]),
    ("slurm", parse_scontrol_jobs, [SLURM, SLURM], [SLURM, "JobId=2 JobState=PENDING NumCPUs=x\n"]),
    ("pbs", parse_qstat_text, [PBS, PBS], [PBS, "    Resource_List.ncpus = x\n"]),
]


def watched(chunks: list[Any], seen: list[bool]) -> Iterator[Any]:
    for chunk in chunks:
        seen.append(gc.isenabled())
        yield chunk


@pytest.mark.parametrize(("name", "parse", "good", "bad"), PARSERS, ids=[p[0] for p in PARSERS])
def test_the_collector_is_off_while_the_output_is_read(
    name: str, parse: Callable[[Any], object], good: list[Any], bad: list[Any]
) -> None:
    assert gc.isenabled()
    seen: list[bool] = []
    parse(watched(good, seen))
    assert seen == [False, False] and gc.isenabled()
    seen.clear()
    with pytest.raises(LRMParseError):
        parse(watched(bad, seen))
    assert seen == [False, False] and gc.isenabled()
