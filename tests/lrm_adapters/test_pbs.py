"""PBS parsers on real Torque and OpenPBS/PBS Pro outputs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from elastic.model import LrmNodeState
from lrm_adapters.base import LRMParseError
from lrm_adapters.pbs_parse import (
    memory_mb,
    parse_pbsnodes_json,
    parse_pbsnodes_xml,
    parse_qstat_json,
    parse_qstat_text,
    parse_qstat_xml,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_torque_text_with_wrapped_lines_held_and_multi_node():
    jobs, running = parse_qstat_text(read("torque/aiida_torque_qstat_f_ichec_newlines.txt"))
    held = next(j for j in jobs if j.id == "549159")
    assert (held.cores, held.nodes, held.runnable, held.reason) == (96, 4, False, "held")
    assert (held.queue, held.account, held.group, held.walltime_s) == (
        "ShortQ",
        "account_549159",
        "users",
        9 * 3600,
    )
    assert len(jobs) == 8 and sum(1 for j in jobs if j.running) == 2
    assert sum(running.values()) == 5


def test_pbspro_text_select_chunks_and_not_running_comments():
    jobs, _ = parse_qstat_text(read("pbspro/aiida_pbspro_qstat_f_multi.txt"))
    express = next(j for j in jobs if j.id == "68350")
    assert (express.cores, express.nodes, express.runnable, express.queue) == (
        240,
        15,
        True,
        "Q_express",
    )
    assert len(jobs) == 6


def test_torque_xml_held_job_with_memory_and_group():
    (job,) = parse_qstat_xml(read("torque/batcheuphoria_qstat_x_held_depend.xml"))[0]
    assert (job.id, job.memory_mb, job.group, job.runnable) == (
        "15020227",
        5120,
        "testGroup",
        False,
    )


def test_torque_xml_finished_jobs_and_array_parents_are_not_demand():
    jobs, running = parse_qstat_xml(read("torque/fyrd_stanford_qstat_x_arrays.xml"))
    assert sum(running.values()) == 1
    assert [(j.id, j.running) for j in jobs] == [("665199", True), ("667999", False)]
    assert jobs[1].memory_mb == 32768 and jobs[1].group == "robby"


def test_fzu_farm_queue_and_nodes():
    jobs, _ = parse_qstat_xml(read("torque/goove_fzu_qstat_x_trimmed.xml"))
    states = Counter("pending" if not j.running else "running" for j in jobs)
    assert states == {"pending": 23, "running": 56}
    assert {j.queue for j in jobs if not j.running} >= {"long", "gridatlas"}
    nodes = parse_pbsnodes_xml(read("torque/goove_fzu_pbsnodes_x_trimmed.xml"))
    assert Counter(n.state for n in nodes) == {
        LrmNodeState.BUSY: 30,
        LrmNodeState.DOWN: 5,
        LrmNodeState.IDLE: 4,
        LrmNodeState.DRAINED: 2,
        LrmNodeState.DRAINING: 1,
    }
    salix = nodes[0]
    assert (salix.name, salix.cores, salix.memory_mb, salix.running_jobs) == (
        "salix01",
        8,
        16054,
        7,
    )


def test_openpbs_json_jobs_and_nodes():
    jobs, running = parse_qstat_json(
        read("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json")
    )
    assert [(j.running, j.cores) for j in jobs] == [(True, 1)]  # the two F jobs are finished
    assert running == {"pbs": 1}
    (node,) = parse_pbsnodes_json(read("pbspro/firecrest_openpbs23_pbsnodes_a_F_json.json"))
    assert (node.name, node.state, node.cores, node.memory_mb) == (
        "pbs",
        LrmNodeState.IDLE,
        1,
        1024,
    )


def test_pbspro_2022_held_ten_thousand_node_job():
    (job,) = parse_qstat_json(read("pbspro/aurora_qstat_x_f_F_json_2022.1.7.json"))[0]
    assert (job.nodes, job.runnable, job.queue, job.account) == (
        10000,
        False,
        "backfill-large",
        "EnergyApps",
    )


@pytest.mark.parametrize(("text", "mb"), [("5gb", 5120), ("1024kb", 1), ("512mb", 512)])
def test_memory_units(text, mb):
    assert memory_mb(text) == mb


def test_garbled_outputs_are_parse_errors():
    with pytest.raises(LRMParseError):
        parse_qstat_json("{broken")
    with pytest.raises(LRMParseError):
        parse_qstat_xml("<Data><Job><Job_Id>1")
    with pytest.raises(LRMParseError):
        parse_pbsnodes_json("nope")
