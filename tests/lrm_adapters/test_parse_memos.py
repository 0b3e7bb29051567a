"""The streamed job parsers convert each distinct text of a field once per parse (``Memo``):
every job still gets the values of its own record, and nothing is kept from one output
to the next. Also the details the faster readers must keep: SGE's text of an element is
what follows its own start tag, and a request's name is its ``name`` attribute."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from lrm_adapters.pbs_parse import parse_qstat_text
from lrm_adapters.sge_parse import parse_qstat_xml

SGE_JOB = (
    "<job_list state='pending'><JB_job_number>{id}</JB_job_number><JB_owner>{owner}</JB_owner>"
    "<state>{state}</state><slots>{slots}</slots><tasks>{tasks}</tasks>"
    "<JB_submission_time>{submitted}</JB_submission_time>"
    "<hard_request name='h_vmem'>{vmem}</hard_request><hard_request name='h_rt'>{rt}"
    "</hard_request></job_list>"
)


def sge(*jobs: dict[str, str]) -> bytes:
    body = "".join(SGE_JOB.format(**job) for job in jobs)
    return f"<job_info><queue_info/><job_info>{body}</job_info></job_info>".encode()


def test_sge_each_job_gets_its_own_conversions() -> None:
    one = {"owner": "a", "state": "qw", "slots": "2", "tasks": "1-4:1", "vmem": "1G", "rt": "60"}
    two = {
        "owner": "b",
        "state": "hqw",
        "slots": "4",
        "tasks": "1-10:2",
        "vmem": "2G",
        "rt": "1:00",
    }
    stamps = {"submitted": "2026-01-01T00:00:00"}, {"submitted": "2026-01-01T00:00:01"}
    jobs = parse_qstat_xml(
        sge(
            {"id": "1", **one, **stamps[0]},
            {"id": "2", **two, **stamps[1]},
            {"id": "3", **one, **stamps[0]},
        )
    ).jobs
    got = [(j.id, j.user, j.cores, j.memory_mb, j.count, j.walltime_s, j.runnable) for j in jobs]
    assert got == [
        ("1", "a", 2, 2048, 4, 60, True),
        ("2", "b", 4, 8192, 5, 60, False),
        ("3", "a", 2, 2048, 4, 60, True),
    ]
    assert jobs[1].reason == "state hqw" and jobs[0].reason == jobs[2].reason == ""
    first, second, third = (j.submit_time for j in jobs)
    assert first is not None and second == first + 1 and third == first


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def test_sge_conversions_are_not_kept_from_one_output_to_the_next(
    zone: pytest.MonkeyPatch,
) -> None:
    job = {"id": "1", "owner": "a", "state": "qw", "slots": "1", "tasks": "1", "vmem": "1G"}
    output = sge({**job, "rt": "60", "submitted": "2026-01-01T09:00:00"})
    stamps = []
    for tz in ("UTC", "Asia/Tokyo"):
        zone.setenv("TZ", tz)
        time.tzset()
        stamps.append(parse_qstat_xml(output).jobs[0].submit_time)
    assert stamps == [1767258000.0, 1767258000.0 - 9 * 3600]


def test_sge_an_elements_text_is_what_follows_its_own_start_tag() -> None:
    """Text between elements (none in a real output) is not part of the next one's."""
    output = (
        b"<job_info><job_info><job_list state='pending'><JB_job_number>1</JB_job_number>"
        b"junk<JB_owner>u</JB_owner> more <JB_project>p<x/>vo</JB_project></job_list>"
        b"</job_info></job_info>"
    )
    (job,) = parse_qstat_xml(output).jobs
    assert (job.user, job.project) == ("u", "vo")


def test_sge_a_request_is_named_by_its_name_attribute_among_others() -> None:
    output = (
        b"<job_info><job_info><job_list state='pending'><JB_job_number>1</JB_job_number>"
        b"<hard_request foo='name' name='h_vmem' resource_contribution='0'>2G</hard_request>"
        b"<hard_request name='h_rt' bar='h_vmem'>120</hard_request>"
        b"<hard_request other='x'>5G</hard_request>"
        b"</job_list></job_info></job_info>"
    )
    (job,) = parse_qstat_xml(output).jobs
    assert (job.memory_mb, job.walltime_s) == (2048, 120)


PBS_JOB = (
    "Job Id: {id}.server\n    Job_Owner = {owner}@h\n    job_state = {state}\n"
    "    Resource_List.select = {select}\n    Resource_List.mem = {mem}\n"
    "    Resource_List.walltime = {walltime}\n    array_indices_remaining = {tasks}\n"
    "    qtime = {qtime}\n    exec_host = {hosts}\n\n"
)


def test_pbs_each_job_gets_its_own_conversions() -> None:
    one = {"owner": "a", "state": "Q", "select": "1:ncpus=2", "mem": "1gb", "walltime": "01:00:00"}
    two = {"owner": "b", "state": "R", "select": "2:ncpus=4", "mem": "2gb", "walltime": "02:00:00"}
    stamps = "Thu Jan  1 00:00:00 2026", "Thu Jan  1 00:00:01 2026"
    text = "".join(
        PBS_JOB.format(id=i, **job, tasks=tasks, qtime=stamp, hosts=hosts)
        for i, (job, tasks, stamp, hosts) in enumerate(
            [
                (one, "1-4", stamps[0], "n1/0"),
                (two, "1-6", stamps[1], "n1/0+n2/0+n2/1"),
                (one, "1-4", stamps[0], "n1/0"),
            ]
        )
    )
    jobs, per_host = parse_qstat_text(text)
    got = [(j.user, j.cores, j.nodes, j.memory_mb, j.walltime_s, j.count, j.hosts) for j in jobs]
    assert got == [
        ("a", 2, 1, 1024, 3600, 4, ()),
        ("b", 8, 2, 2048, 7200, 1, ("n1", "n2")),
        ("a", 2, 1, 1024, 3600, 4, ()),
    ]
    first, second, third = (j.submit_time for j in jobs)
    assert first is not None and second == first + 1 and third == first
    assert per_host == {"n1": 1, "n2": 1}


def test_pbs_conversions_are_not_kept_from_one_output_to_the_next(
    zone: pytest.MonkeyPatch,
) -> None:
    text = PBS_JOB.format(
        id=1,
        owner="a",
        state="Q",
        select="1:ncpus=1",
        mem="1gb",
        walltime="1:00",
        tasks="1",
        qtime="Thu Jan  1 09:00:00 2026",
        hosts="",
    )
    stamps = []
    for tz in ("UTC", "Asia/Tokyo"):
        zone.setenv("TZ", tz)
        time.tzset()
        stamps.append(parse_qstat_text(text)[0][0].submit_time)
    assert stamps == [1767258000.0, 1767258000.0 - 9 * 3600]
