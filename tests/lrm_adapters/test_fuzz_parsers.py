"""Fuzzed parsers: every LRM parser fed mutations of the real captures in tests/fixtures/.

Byte flips, truncation, deleted and duplicated lines and inserted bytes or format tokens:
each parser must return its normal result (jobs and nodes of the model) or raise
LRMParseError, never another exception, and every example must finish within the
deadline. The test command runs ``ELASTIC_FUZZ_EXAMPLES`` (60) examples per parser;
``scripts/fuzz`` runs many more. Each crash the fuzzing found is kept below as an
@example, named after what it broke.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from lrm_adapters.base import LRMParseError
from tests.lrm_adapters.fuzz_support import EXAMPLES, TARGETS, Target, check_result, mutated

#: a parse that has not returned by then is a hang (hypothesis' deadline only judges
#: examples that finish)
HANG_S = 10
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=2),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextmanager
def hang_guard() -> Iterator[None]:
    def hung(signum: int, frame: object) -> None:
        raise TimeoutError(f"a parse ran past {HANG_S} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, HANG_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def parse_or_refuse(target: Target, data: bytes) -> None:
    with hang_guard():
        try:
            result = target.parse(data)
        except LRMParseError:
            return
    check_result(result)


#: captures that are garbled as the LRM printed them (SGE's ``<>`` element for an unknown job)
GARBLED = {"ood_qstat_j_xml_unknown_job.xml"}


def test_every_capture_parses_unmutated():
    for target in TARGETS:
        for path in target.captures():
            if path.name in GARBLED:
                with pytest.raises(LRMParseError):
                    target.parse(path.read_bytes())
            else:
                check_result(target.parse(path.read_bytes()))


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
@FUZZ
@given(data=st.data())
def test_mutated_captures_parse_or_raise_lrm_parse_error(target: Target, data: st.DataObject):
    path = data.draw(st.sampled_from(target.captures()), label="capture")
    mutant = data.draw(mutated(path.read_bytes()), label="mutant")
    parse_or_refuse(target, mutant)


# --- each crash found, kept as a named example (run in the explicit phase only) ---------

TARGET = {t.name: t for t in TARGETS}
FOUND = settings(phases=[Phase.explicit], deadline=None, database=None)
SQUEUE = b'{"jobs": [{"job_id": 1, "job_state": "PENDING", "cpus": %s}]}'
QHOST = b"<qhost><host name='h'><hostvalue name='num_proc'>%s</hostvalue></host></qhost>"


@FOUND
@given(data=st.binary())
@example(data=QHOST % b">40")  # fuzz: int(float('>40')), ValueError
@example(data=QHOST % b"inf")  # by reading: int(float('inf')), OverflowError
def test_found_sge_qhost_num_proc_not_a_number(data: bytes):
    parse_or_refuse(TARGET["sge_qhost_xml"], data)


@FOUND
@given(data=st.binary())
@example(
    data=b"<job_info><job_info><job_list state='qw'><JB_job_number>1</JB_job_number>"
    b"<state>qw</state><tasks>1-10:0</tasks></job_list></job_info></job_info>"
)
# by reading: a task range with step 0, range() ValueError
@example(
    data=b"<job_info><queue_info><Queue-List><name>q@h</name><slots_used>8 8"
    b"</slots_used></Queue-List></queue_info></job_info>"
)  # fuzz: int('8 8')
def test_found_sge_qstat_counts(data: bytes):
    parse_or_refuse(TARGET["sge_qstat_xml"], data)


@FOUND
@given(data=st.binary())
@example(data=b"JobId=1 JobState=PENDING NumCPUs=1 N")  # fuzz: a record cut short, int('1 N')
@example(data=b"<JobId=1 JobState=PENDING")  # fuzz: no JobId token, KeyError
@example(data=b"JobId=1 JobState=PENDING Reason=")  # fuzz: empty Reason, IndexError
def test_found_scontrol_jobs_cut_short(data: bytes):
    parse_or_refuse(TARGET["slurm_scontrol_jobs"], data)


@FOUND
@given(data=st.binary())
@example(data=b"NodeName=vnode-2 CPUAlloc=0 CPUTot=1 C")  # fuzz: int('1 C')
def test_found_scontrol_nodes_cut_short(data: bytes):
    parse_or_refuse(TARGET["slurm_scontrol_nodes"], data)


@FOUND
@given(data=st.binary())
@example(data=SQUEUE % b"1e999")  # by reading: int(inf), OverflowError
@example(data=b'{"jobs": 5}')  # by reading: iterating an int, TypeError
@example(data=b'{"jobs": ["x"]}')  # by reading: "x".get, AttributeError
def test_found_squeue_json_shapes(data: bytes):
    parse_or_refuse(TARGET["slurm_squeue_json"], data)


@FOUND
@given(data=st.binary())
@example(data=b'{"sinfo": [{"node": 1}]}')  # by reading: (1).get, AttributeError
def test_found_sinfo_json_shapes(data: bytes):
    parse_or_refuse(TARGET["slurm_sinfo_json"], data)


@FOUND
@given(data=st.binary())
@example(data=b"-1")  # fuzz: (-1).get, AttributeError
@example(data=b'{"Jobs": {"1": 2}}')  # by reading: (2).items, AttributeError
def test_found_pbs_json_not_an_object(data: bytes):
    parse_or_refuse(TARGET["pbs_qstat_json"], data)
    parse_or_refuse(TARGET["pbs_pbsnodes_json"], data)


@FOUND
@given(data=st.binary())
@example(data=b"Job Id: 1.s\n    job_state = Q\n    queue = ")  # fuzz: value cut off, unpack
@example(data=b"Job Id: 1.s\n    job_state = Q\n    Resource_List.ncpus = 4x")  # int('4x')
@example(data=b"Job Id: 1.s\n    job_state = Q\n    Resource_List.mem = " + b"9" * 400 + b"gb")
# by reading: round(inf) of a 400-digit size, OverflowError
def test_found_pbs_qstat_text_cut_short(data: bytes):
    parse_or_refuse(TARGET["pbs_qstat_text"], data)


@FOUND
@given(data=st.binary())
@example(data=b"ClusterId = 1\nProcId = 0\nJobStatus = 1\nRequestCpus = 1e999\n")
# by reading: a real of inf, int(inf) OverflowError
def test_found_htcondor_infinite_real(data: bytes):
    parse_or_refuse(TARGET["htcondor_classad_text"], data)
