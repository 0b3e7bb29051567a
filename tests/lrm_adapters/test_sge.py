"""SGE parsers on real outputs (other projects' fixtures and our own SGE 8.1.9 captures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.model import LrmNodeState
from elastic.vomatch import label_snapshot
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.sge import SgeAdapter, queue_attribute
from lrm_adapters.sge_parse import (
    memory_mb,
    merge_nodes,
    parse_qhost_xml,
    parse_qstat_xml,
    seconds,
    task_count,
)
from tests.factories import make_site

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sge"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def by_id(result, job_id):
    return [j for j in result.jobs if j.id == job_id]


def test_own_capture_pe_job_array_and_held_job_on_a_disabled_queue():
    result = parse_qstat_xml(read("debian_sge819_qstat_f_u_r_ext_xml_disabled.xml"))
    pe = by_id(result, "1")[0]
    assert (pe.cores, pe.memory_mb, pe.project, pe.running) == (2, 2048, "atlas", True)
    array = by_id(result, "3")[0]
    assert (array.count, array.project, array.runnable, array.running) == (94, "cms", True, False)
    held = by_id(result, "2")[0]
    assert held.runnable is False and held.reason == "state hqw"
    hosts = parse_qhost_xml(read("debian_sge819_qhost_xml.xml"))
    assert [(h.name, h.cores, h.memory_mb) for h in hosts] == [("vm", 2, 24064)]
    (node,) = merge_nodes(hosts, result)
    assert (node.state, node.running_jobs) == (LrmNodeState.DRAINING, 1)


def test_own_capture_without_f_counts_running_tasks_per_host():
    result = parse_qstat_xml(read("debian_sge819_qstat_u_r_ext_xml.xml"))
    assert result.running_per_host == {"vm": 3}
    assert sum(j.count for j in result.jobs if not j.running and j.runnable) == 96


def test_ood_pending_running_with_walltime_queue_and_array():
    jobs = parse_qstat_xml(read("ood_qstat_u_r_xml_pending_running.xml")).jobs
    summary = [(j.id, j.count, j.walltime_s, j.queue, j.runnable, j.running) for j in jobs]
    assert summary == [
        ("88", 1, 360, "general.q", True, True),
        ("1045", 1, 360, "general.q", True, False),
        ("1046", 5, 360, "general.q", True, False),
        ("44", 1, 360, "general.q", False, False),
    ]
    assert jobs[1].project == "project_b"


def test_array_tasks_remainder_is_one_job_with_a_count():
    result = parse_qstat_xml(read("gogridengine_ec2_qstat_f_F_xml_array_tasks.xml"))
    pending = [j for j in result.jobs if not j.running]
    assert [(j.id, j.count) for j in pending] == [("1006", 110)]
    assert sum(result.running_per_host.values()) == 40
    assert len(result.queues) == 5


def test_alarm_unknown_orphaned_queues_are_down():
    result = parse_qstat_xml(read("gogridengine_ec2_qstat_f_F_xml_trimmed.xml"))
    states = {q.host: q.state for q in result.queues}
    assert states["ip-172-16-2-132.system.internal"] == "auo"
    assert len(result.jobs) == 238 and all(j.running for j in result.jobs)
    from lrm_adapters.sge_parse import QhostHost

    hosts = [QhostHost(h, 36, 1000, True) for h in states]
    nodes = {n.name: n.state for n in merge_nodes(hosts, result)}
    assert nodes["ip-172-16-2-132.system.internal"] is LrmNodeState.DOWN
    assert nodes["ip-172-16-2-102.system.internal"] is LrmNodeState.BUSY


def test_smith_cluster_queue_and_hosts():
    result = parse_qstat_xml(read("smith_qstat_u_all_xml_trimmed.xml"))
    pending = [j for j in result.jobs if not j.running]
    assert len(result.jobs) == 288 and len(pending) == 183
    assert {j.cores for j in pending} == {8, 16, 24, 32, 40, 52}
    assert len(result.running_per_host) == 105
    hosts = parse_qhost_xml(read("smith_qhost_xml_sge8.xml"))
    assert len(hosts) == 165 and sum(not h.reporting for h in hosts) == 50
    assert (hosts[0].name, hosts[0].cores, hosts[0].memory_mb) == ("x1701", 32, 95334)


def test_starcluster_loaded_queue_and_version_2_declaration():
    result = parse_qstat_xml(read("starcluster_qstat_f_u_all_xml_loaded.xml"))
    assert len([j for j in result.jobs if not j.running]) == 188
    assert by_id(result, "389")[0].cores == 20
    assert len(result.queues) == 10
    assert len(parse_qhost_xml(read("starcluster_qhost_xml_loaded.xml"))) == 10


def test_aiida_ext_urg_output():
    jobs = parse_qstat_xml(read("aiida_qstat_ext_urg_xml.xml")).jobs
    assert [(j.id, j.cores, j.running, j.runnable) for j in jobs] == [
        ("1212299", 1, True, True),
        ("1212263", 8, False, True),
        ("1212322", 1, False, False),
    ]
    assert {j.project for j in jobs} == {"ams.p"}


@pytest.mark.parametrize("broken", [b"<job_info><job_list>", b"not xml at all", b""])
def test_garbled_xml_is_a_parse_error(broken):
    with pytest.raises(LRMParseError):
        parse_qstat_xml(broken)
    with pytest.raises(LRMParseError):
        parse_qhost_xml(broken)


@pytest.mark.parametrize(
    ("text", "mb"), [("1G", 1024), ("512M", 512), ("2048K", 2), ("1.5g", 1536), ("x", 0)]
)
def test_memory_units(text, mb):
    assert memory_mb(text) == mb


def test_task_ranges_and_walltimes():
    assert task_count("41-150:1") == 110
    assert task_count("8,9") == 2
    assert task_count("1-10:2,20") == 6
    assert seconds("1:00:00") == 3600 and seconds("360") == 360


def test_adapter_labels_vo_and_rejects_bad_host_names(tmp_path):
    qstat, qhost = tmp_path / "qstat", tmp_path / "qhost"
    qstat.write_text(
        f"#!/bin/sh\ncat {FIXTURES / 'debian_sge819_qstat_f_u_r_ext_xml_disabled.xml'}\n"
    )
    qhost.write_text(f"#!/bin/sh\ncat {FIXTURES / 'debian_sge819_qhost_xml.xml'}\n")
    qrstat = tmp_path / "qrstat"
    qrstat.write_text(f"#!/bin/sh\ncat {FIXTURES / 'debian_sge819_qrstat_xml_u_all_empty.xml'}\n")
    for script in (qstat, qhost, qrstat):
        script.chmod(0o755)
    import os

    runner = CommandRunner(5, {"PATH": f"{tmp_path}:{os.environ['PATH']}"})
    adapter = SgeAdapter(runner, make_site().vos)
    snapshot = label_snapshot(adapter.snapshot(), make_site().vos)  # as the engine does
    assert {j.id: j.vo for j in snapshot.jobs} == {"1": "atlas", "3": "cms", "2": None}
    with pytest.raises(LRMError, match="invalid name"):
        adapter.register_node("bad;rm -rf /", "atlas")


def test_a_hanging_command_times_out_with_the_command_in_the_error(tmp_path):
    slow = tmp_path / "qstat"
    slow.write_text("#!/bin/sh\necho 'still thinking' >&2\nsleep 30\n")
    slow.chmod(0o755)
    import os
    import time

    adapter = SgeAdapter(CommandRunner(1, {"PATH": f"{tmp_path}:{os.environ['PATH']}"}), [])
    started = time.monotonic()
    with pytest.raises(LRMError) as caught:
        adapter.snapshot()
    assert time.monotonic() - started < 5
    assert caught.value.command[0] == "qstat" and "timed out after 1 s" in str(caught.value)


def test_qstat_j_details_every_dialect():
    from lrm_adapters.sge_parse import parse_qstat_j_xml

    held = parse_qstat_j_xml(read("batcheuphoria_qstat_j_xml_multi_held.xml"))
    assert [(j.id, j.cores, j.memory_mb, j.runnable) for j in held] == [
        ("22003", 1, 1024, True),
        ("22005", 4, 15152, True),
        ("22006", 1, 1024, False),
        ("22007", 1, 0, False),
    ]
    (vmem,) = parse_qstat_j_xml(read("ood_qstat_j_xml_h_vmem.xml"))
    assert (vmem.group, vmem.project, vmem.memory_mb, vmem.walltime_s) == (
        "xjzhou",
        "xjzhou_prj",
        16384,
        86400,
    )
    (multi,) = parse_qstat_j_xml(read("ood_qstat_j_xml_multislot.xml"))
    assert (multi.cores, multi.queue, multi.group) == (16, "all.q", "packages")
    (uge,) = parse_qstat_j_xml(read("ood_uge_qstat_j_xml.xml"))
    assert (uge.cores, uge.queue, uge.walltime_s, uge.group) == (11, "ondemand", 14400, "hpcc")
    with pytest.raises(LRMParseError):
        parse_qstat_j_xml(read("ood_qstat_j_xml_unknown_job.xml"))


def test_adapter_asks_qstat_j_for_groups_only_when_a_vo_matches_on_group():
    class Runner:
        def __init__(self):
            self.calls = []

        def run(self, argv, **_):
            self.calls.append(argv)
            if argv[0] == "qrstat":
                return read("debian_sge819_qrstat_xml_u_all_empty.xml").decode()
            if argv[:2] == ["qstat", "-j"]:
                return read("ood_qstat_j_xml_h_vmem.xml").decode().replace("4147342", "3")
            if argv[0] == "qstat":
                return read("debian_sge819_qstat_f_u_r_ext_xml_disabled.xml").decode()
            return read("debian_sge819_qhost_xml.xml").decode()

    by_group = make_site(
        vos=[
            {
                "name": "xj",
                "match": {"group": ["xjzhou"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
            }
        ],
        ec2={"instance_types": {}},
    ).vos
    runner = Runner()
    jobs = {j.id: j for j in label_snapshot(SgeAdapter(runner, by_group).snapshot(), by_group).jobs}
    assert jobs["3"].vo == "xj" and jobs["3"].group == "xjzhou"
    assert ["qstat", "-j", "2,3", "-xml"] in runner.calls
    plain = Runner()
    SgeAdapter(plain, make_site().vos).snapshot()
    assert not any(c[:2] == ["qstat", "-j"] for c in plain.calls)


QUEUE_CONFIG = """qname                 all.q
hostlist              @allhosts @atlas
seq_no                0,[t-atlas-00002=100],[t-atlas-00003=100], \\
                      [t-atlas-00004=100]
slots                 1,[t-atlas-00001=4],[t-atlas-00002=4]
"""


def test_queue_attribute_joins_continuation_lines():
    assert queue_attribute(QUEUE_CONFIG, "seq_no").endswith("[t-atlas-00004=100]")
    assert queue_attribute(QUEUE_CONFIG, "qname") == "all.q"
    assert queue_attribute(QUEUE_CONFIG, "pe_list") == ""


@pytest.mark.parametrize(("host", "purged"), [("t-atlas-00001", False), ("t-atlas-00004", True)])
def test_removal_purges_a_sequence_number_only_where_there_is_one(host, purged):
    class Runner:
        def __init__(self) -> None:
            self.calls: list[list[str]] = []

        def run(self, argv, **_):
            self.calls.append(list(argv))
            return QUEUE_CONFIG if argv[:2] == ["qconf", "-sq"] else ""

    runner = Runner()
    SgeAdapter(runner, make_site().vos).remove_node(host)  # type: ignore[arg-type]
    purge = ["qconf", "-purge", "queue", "seq_no", f"all.q@{host}"]
    assert (purge in runner.calls) is purged
