"""squeue --json read through its fast paths (lrm_adapters/slurm_parse._JobReader, _count,
and _json_stream's in-place delimiter checks) gives what the plain field rules give.

The reference below is the reading as slurm_parse wrote it before the fast paths: every
field through ``number``, ``_text``, ``states``, ``is_demand`` and the hostlist expander,
from ``json.loads`` of the whole text. Generated jobs mix every shape a field can take in
a real or garbled output (plain and wrapped numbers, unset, infinite, huge or non-finite
ones, strings where numbers go and lists where strings go), so that a fast path that
takes a shape it should have left to the general rule shows up as a difference.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from elastic.model import Job
from lrm_adapters._json_stream import array_members
from lrm_adapters.base import LRMParseError
from lrm_adapters.sge_parse import task_count
from lrm_adapters.slurm_parse import (
    RUNNING_STATES,
    _count,
    _text,
    expand_hostlist,
    number,
    parse_squeue_json,
    states,
)
from lrm_adapters.slurm_reasons import is_demand


def plain_job(raw: dict[str, Any], running: bool) -> Job:
    cpus = number(raw.get("cpus")) or 0
    tasks = number(raw.get("tasks")) or 1
    per_task = number(raw.get("cpus_per_task")) or 1
    cores = max(cpus, tasks * per_task, 1)
    nodes = number(raw.get("node_count")) or 1
    per_node = number(raw.get("memory_per_node"))
    per_cpu = number(raw.get("memory_per_cpu"))
    memory = per_node * nodes if per_node else (per_cpu * cores if per_cpu else 0)
    reason = str(raw.get("state_reason") or "")
    array_tasks = str(raw.get("array_task_string") or "")
    array_id = number(raw.get("array_job_id")) or 0
    limit = number(raw.get("time_limit"))
    return Job(
        id=str(array_id if array_id and not running else raw.get("job_id")),
        cores=cores,
        memory_mb=memory,
        count=task_count(array_tasks.split("%")[0]) if array_tasks and not running else 1,
        nodes=nodes,
        walltime_s=limit * 60 if limit else None,
        runnable=is_demand(reason, named_nodes=bool(_text(raw.get("required_nodes")))),
        running=running,
        user=raw.get("user_name") or None,
        group=raw.get("group_name") or None,
        project=raw.get("qos") or None,
        queue=raw.get("partition") or None,
        account=raw.get("account") or None,
        features=tuple(f for f in re.split(r"[&|,\[\]*]", _text(raw.get("features"))) if f),
        submit_time=number(raw.get("submit_time")),
        start_time=number(raw.get("start_time")) if running else None,
        hosts=tuple(expand_hostlist(str(raw.get("nodes") or ""))) if running else (),
        reason="" if reason in {"", "None"} else reason,
    )


def plain_parse(text: str) -> tuple[list[Job], Counter[str]]:
    jobs: list[Job] = []
    per_node: Counter[str] = Counter()
    for raw in json.loads(text).get("jobs") or []:
        if not isinstance(raw, dict):
            raise LRMParseError("squeue --json: jobs is not a list of objects")
        state = (states(raw.get("job_state")) or ["UNKNOWN"])[0]
        running = state in RUNNING_STATES
        if state != "PENDING" and not running:
            continue
        job = plain_job(raw, running)
        per_node.update(job.hosts)
        jobs.append(job)
    return jobs, per_node


def outcome(parse: Any, text: Any) -> Any:
    try:
        return parse(text)
    except LRMParseError as exc:
        return ("refused", str(exc))


LIMIT = 2**62  # lrm_adapters._numbers' bound
INTS = st.one_of(
    st.integers(-5, 300),
    st.sampled_from([2**31, 2**40 - 1, 2**40, 2**53, LIMIT, LIMIT + 1, -(2**40), -LIMIT - 1]),
    st.integers(),
)
PLAIN = st.one_of(
    st.none(),
    INTS,
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "4", "x"]),
)
WRAPPED = st.dictionaries(
    st.sampled_from(["set", "infinite", "number"]),
    st.one_of(PLAIN, st.sampled_from([0, 1]), st.just([4])),
)
SET = st.builds(
    lambda n, extra: {"set": True, "infinite": False, "number": n, **extra},
    INTS,
    st.dictionaries(st.sampled_from(["infinite", "other"]), PLAIN, max_size=1),
)
COUNTS = st.one_of(PLAIN, WRAPPED, SET, st.lists(st.integers(0, 9), max_size=2))
#: counts that read without a refusal: every shape but the non-finite and out-of-range
SAFE_INTS = st.integers(-5, 10**6)
SAFE_COUNTS = st.one_of(
    st.none(),
    SAFE_INTS,
    st.booleans(),
    st.sampled_from([0.0, 2.5, "", "4", [4], {}]),
    st.builds(
        lambda n, s, i: {"set": s, "infinite": i, "number": n},
        st.one_of(SAFE_INTS, st.none(), st.just(1.5), st.just("3")),
        st.sampled_from([True, False, 1, 0, None]),
        st.sampled_from([False, True, 0, 1, None]),
    ),
)
TEXTS = st.one_of(
    st.none(),
    st.sampled_from(["", "u1", "u2", "batch", "None", "0"]),
    st.integers(-1, 2),
    st.booleans(),
    st.lists(st.sampled_from(["", "a", "b"]), max_size=3),
    st.just({"a": 1}),
)
STATES = st.one_of(
    st.sampled_from(["PENDING", "RUNNING", "pending", "COMPLETED", "Running+X", "", " "]),
    st.lists(st.one_of(st.sampled_from(["PENDING", "running", "Suspended", ""]), SAFE_INTS)),
    st.none(),
    st.integers(0, 3),
)
REASONS = st.one_of(
    TEXTS,
    st.sampled_from(["Priority", "Resources", "ReqNodeNotAvail", "JobHeldUser", "QOSGrpX"]),
    st.just("ReqNodeNotAvail, UnavailableNodes:cn1"),
)
NAMED = st.one_of(TEXTS, st.sampled_from(["cn1", [""], ["", ""], ["cn1"], [0], 0, {}]))


def jobs_of(counts: Any, arrays: Any, nodes: Any) -> Any:
    texts = dict.fromkeys(["user_name", "group_name", "qos", "partition", "account"], TEXTS)
    fields = dict.fromkeys(
        [
            "cpus",
            "tasks",
            "cpus_per_task",
            "node_count",
            "memory_per_node",
            "memory_per_cpu",
            "array_job_id",
            "time_limit",
            "submit_time",
            "start_time",
        ],
        counts,
    )
    return st.fixed_dictionaries(
        {"job_state": STATES},
        optional={
            "job_id": st.one_of(st.integers(0, 10**6), st.sampled_from(["7", None])),
            "state_reason": REASONS,
            "required_nodes": NAMED,
            "features": st.one_of(TEXTS, st.sampled_from(["a&b", "[x|y]*2", "gpu,a100"])),
            "array_task_string": st.one_of(TEXTS, st.integers(0, 3), arrays),
            "nodes": nodes,
            **texts,
            **fields,
        },
    )


#: jobs every field of which reads: what differs shows as a different Job
SAFE_JOB = jobs_of(
    SAFE_COUNTS,
    st.sampled_from(["1-10%2", "3,5-9:2", "8"]),
    st.sampled_from([None, "", 0, "cn[1-2]", "cn[01-03,7],gpu1", "cn1"]),
)
#: jobs of any shape, garbled ones included: refused with the same words, or read the same
JOB = jobs_of(
    COUNTS,
    st.sampled_from(["1-10%2", "1-4:0", "8"]),
    st.one_of(TEXTS, st.sampled_from(["cn[1-2]", "cn[1-"])),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=COUNTS)
def test_count_is_number_for_every_shape(value: Any) -> None:
    """The fast path takes only what it reads exactly as ``number`` does (the range
    check included: a bound lowered in _numbers must not be skipped by it)."""
    assert outcome(_count, value) == outcome(number, value)


def test_count_takes_the_bound_of_numbers() -> None:
    for value in (2**40 - 1, 2**40, LIMIT, LIMIT + 1, -LIMIT - 1, 10**400):
        assert outcome(_count, value) == outcome(number, value)
        wrapped = {"set": True, "infinite": False, "number": value}
        assert outcome(_count, wrapped) == outcome(number, wrapped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(SAFE_JOB, max_size=6), separator=st.sampled_from([",", ", ", ",\n  "]))
def test_generated_jobs_read_as_the_plain_rules_read_them(
    raws: list[dict[str, Any]], separator: str
) -> None:
    """The same jobs and per-node counts as the plain rules, whole and in chunks of 7
    characters; a job repeated is read again, not remembered."""
    body = separator.join(json.dumps(raw) for raw in raws + raws[:2])
    text = '{"meta": {}, "jobs": [' + body + "]}"
    expected = plain_parse(text)
    assert parse_squeue_json(text) == expected
    assert parse_squeue_json(iter([text[i : i + 7] for i in range(0, len(text), 7)])) == expected


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raws=st.lists(JOB, max_size=4), separator=st.sampled_from([", ", " , "]))
def test_garbled_jobs_are_refused_as_the_plain_rules_refuse_them(
    raws: list[dict[str, Any]], separator: str
) -> None:
    """Non-finite, out-of-range and cut counts, bad task ranges and hostlists: the same
    refusal (the first bad field, in the same words), or the same jobs."""
    text = '{"jobs": [' + separator.join(json.dumps(raw) for raw in raws) + "]}"
    expected = outcome(plain_parse, text)
    assert outcome(parse_squeue_json, text) == expected
    assert outcome(parse_squeue_json, iter([text[i : i + 5] for i in range(0, len(text), 5)])) == (
        expected
    )


def test_a_count_of_hundreds_of_digits_is_a_parse_error() -> None:
    """Slurm prints no such number; before, it reached float() and raised OverflowError
    out of the parser (the pass saw a crash, not "could not read the LRM")."""
    with pytest.raises(LRMParseError, match="out of range"):
        number(10**400)
    big = '{"jobs": [{"job_state": "PENDING", "cpus": 1' + "0" * 400 + "}]}"
    with pytest.raises(LRMParseError, match="out of range"):
        parse_squeue_json(big)
    wrapped = '{"set": true, "infinite": false, "number": 1' + "0" * 400 + "}"
    with pytest.raises(LRMParseError, match="out of range"):
        parse_squeue_json('{"jobs": [{"job_state": ["PENDING"], "time_limit": ' + wrapped + "}]}")


def test_jobs_share_the_texts_they_repeat() -> None:
    """A million jobs of a few hundred users hold a few hundred user strings, not a
    million decoded copies; each job still has its own record's values."""
    raws = [
        {"job_state": ["PENDING"], "job_id": i, "user_name": f"u{i % 2}", "account": "vo"}
        for i in range(4)
    ]
    jobs, _ = parse_squeue_json(json.dumps({"jobs": raws}))
    assert [j.user for j in jobs] == ["u0", "u1", "u0", "u1"]
    assert jobs[0].user is jobs[2].user and jobs[1].user is jobs[3].user
    assert all(j.account is jobs[0].account for j in jobs)


@pytest.mark.parametrize("separator", [", ", ",  ", ", \n", ",\t", " , ", ",\r\n ", ","], ids=repr)
def test_elements_after_any_whitespace_run_read_as_json_loads(separator: str) -> None:
    """A comma and one space (json.dumps's) is skipped in place; any other run of
    whitespace, and a cut anywhere in it, is read the general way to the same elements."""
    members = ['{"a": 1}', "12", '"s"', "[1, 2]", "-0.5e1", "null", '{"b": [true]}']
    text = '{"jobs": [' + separator.join(members) + "]}"
    whole = json.loads(text)["jobs"]
    for cut in range(len(text) + 1):
        got = list(array_members(iter([text[:cut], text[cut:]]), "jobs", "squeue --json"))
        assert got == whole, cut
