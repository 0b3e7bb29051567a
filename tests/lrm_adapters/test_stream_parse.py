"""The parsers fed an LRM's output in chunks, as ``CommandRunner.stream`` gives it: the same
jobs as from the whole text, wherever a chunk boundary falls, and the output read as it
comes rather than held whole (a million-job listing is hundreds of megabytes)."""

from __future__ import annotations

import itertools
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lrm_adapters._stream import decoded, lines
from lrm_adapters.htcondor import iter_long_output, parse_long_output
from lrm_adapters.pbs_parse import parse_qstat_text, qstat_text_records
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_text import iter_records, parse_scontrol_jobs, parse_scontrol_nodes

FIXTURES = Path(__file__).parent.parent / "fixtures"


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def text_pieces(data: bytes, size: int) -> Iterator[str]:
    return decoded(pieces(data, size))


def sge(source: Any) -> Any:
    result = parse_qstat_xml(source)
    return result.jobs, result.running_per_host, result.queues


def condor(source: Any) -> list[str]:
    return [str(ad) for ad in parse_long_output(source)]


CASES: list[tuple[str, Callable[[Any], Any], bool]] = [  # fixture, parser, takes bytes
    *((f"sge/{p.name}", sge, True) for p in sorted((FIXTURES / "sge").glob("*qstat_[!j]*.xml"))),
    ("slurm/clues_scontrol_o_show_jobs_20.02.txt", parse_scontrol_jobs, False),
    ("slurm/clues_scontrol_o_show_nodes_20.02.txt", parse_scontrol_nodes, False),
    ("slurm/irush_scontrol_d_show_job_limits.txt", parse_scontrol_jobs, False),
    ("pbspro/aiida_pbspro_qstat_f_multi.txt", parse_qstat_text, False),
    ("torque/aiida_torque_qstat_f_ichec_newlines.txt", parse_qstat_text, False),
    ("torque/dirac_rrcki_qstat_f_torque6_running.txt", parse_qstat_text, False),
    ("htcondor/htcondor_q_long_ce_job_x509.txt", condor, False),
    ("htcondor/htcondor_status_long_basic4slot.txt", condor, False),
]


@pytest.mark.parametrize("size", [1, 7, 4096])
@pytest.mark.parametrize(("fixture", "parse", "binary"), CASES, ids=[c[0] for c in CASES])
def test_chunks_give_what_the_whole_text_gives(
    fixture: str, parse: Callable[[Any], Any], binary: bool, size: int
) -> None:
    data = (FIXTURES / fixture).read_bytes()
    whole = parse(data if binary else data.decode())
    assert whole  # the fixture has something to compare
    assert parse(pieces(data, size) if binary else text_pieces(data, size)) == whole


def test_a_utf8_sequence_split_between_chunks_is_one_character() -> None:
    assert "".join(decoded([b"caf\xc3", b"\xa9 \xff"])) == "caf\u00e9 \ufffd"


def test_lines_are_cut_at_newlines_only_across_chunks() -> None:
    assert list(lines(["a\nb", "c\r", "\n\nd"])) == ["a", "bc\r", "", "d"]


class Counted:
    """An endless output that counts how many chunks a parser has pulled from it."""

    def __init__(self, record: str) -> None:
        self.record = record
        self.pulled = 0

    def __iter__(self) -> Iterator[str]:
        for _ in range(10**7):  # a parser reading it all would take minutes, not fail fast
            self.pulled += 1
            yield self.record


SCONTROL_JOB = (
    "JobId={} JobName=x UserId=alice(1000) GroupId=alice(1000) JobState=PENDING "
    "Reason=Resources NumCPUs=4 NumNodes=1 MinMemoryNode=4G TimeLimit=01:00:00\n"
)
QSTAT_F_JOB = "Job Id: 1.server\n    job_state = Q\n    Resource_List.ncpus = 4\n\n"
CONDOR_AD = 'ClusterId = 1\nProcId = 0\nJobStatus = 1\nOwner = "u"\n\n'


@pytest.mark.parametrize(
    ("record", "reader"),
    [
        (SCONTROL_JOB, lambda s: iter_records(s, "JobId")),
        (QSTAT_F_JOB, qstat_text_records),
        (CONDOR_AD, iter_long_output),
    ],
    ids=["scontrol", "qstat -f", "condor -long"],
)
def test_records_come_out_as_their_chunks_come_in(
    record: str, reader: Callable[[Any], Iterator[Any]]
) -> None:
    """A parser that joined its chunks first would pull all 10 million before the first
    record; a streaming one has pulled a record's worth (and the next one's start)."""
    source = Counted(record)
    first = list(itertools.islice(reader(source), 3))
    assert len(first) == 3
    assert source.pulled <= 4


def sge_padded(jobs: int, padding: int) -> Iterator[bytes]:
    """A qstat -xml listing whose jobs carry a long field the parser does not keep."""
    yield b"<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>"
    pad = b"p" * padding
    for i in range(jobs):
        yield (
            (
                f"<job_list state='pending'><JB_job_number>{i}</JB_job_number>"
                f"<JB_project>vo1</JB_project><state>qw</state><slots>1</slots><JB_name>"
            ).encode()
            + pad
            + b"</JB_name></job_list>"
        )
    yield b"</job_info></job_info>"


def scontrol_padded(jobs: int, padding: int) -> Iterator[str]:
    pad = "p" * padding
    for i in range(jobs):
        yield SCONTROL_JOB.format(i).replace(" JobName=x", f" Comment={pad}")


def peak_mb(parse: Callable[[], Any]) -> tuple[float, Any]:
    tracemalloc.start()
    try:
        result = parse()
        return tracemalloc.get_traced_memory()[1] / 1e6, result
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize(
    ("make", "parse", "count"),
    [
        (sge_padded, lambda s: parse_qstat_xml(s).jobs, len),
        (scontrol_padded, lambda s: parse_scontrol_jobs(s)[0], len),
    ],
    ids=["sge qstat -xml", "scontrol -o show jobs"],
)
def test_memory_is_the_jobs_kept_not_the_output(
    make: Callable[[int, int], Iterator[Any]],
    parse: Callable[[Any], Any],
    count: Callable[[Any], int],
) -> None:
    """40 MB of output, 2,000 jobs kept: holding the whole output (or a tree of it) would
    cost 40 MB and more; streaming costs the jobs plus a job's worth of text."""
    peak, jobs = peak_mb(lambda: parse(make(2000, 20_000)))
    assert count(jobs) == 2000
    assert peak < 10, f"{peak:.1f} MB traced for 40 MB of output"
