"""'Empty' needs positive evidence: every adapter merges the job listing's signs of work
into the node listing, so a node the node listing omits or calls idle is busy when jobs
run there (issue 10: an empty qhost once made a node with a running job look absent)."""

from __future__ import annotations

from pathlib import Path

from elastic.model import LrmNode, LrmNodeState
from lrm_adapters.base import merge_running
from lrm_adapters.sge_parse import merge_nodes, parse_qhost_xml, parse_qstat_xml

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sge"
EMPTY_QHOST = b"<?xml version='1.0'?><qhost xmlns:xsd='x'></qhost>"


def test_sge_a_host_qhost_leaves_out_is_busy_when_qstat_runs_a_job_there():
    qstat = parse_qstat_xml(
        (FIXTURES / "debian_sge819_qstat_f_u_r_ext_xml_disabled.xml").read_bytes()
    )
    nodes = {n.name: n for n in merge_nodes(parse_qhost_xml(EMPTY_QHOST), qstat)}
    # its queue is disabled in this capture: draining, with the job, never absent or empty
    assert nodes["vm"].state is LrmNodeState.DRAINING and nodes["vm"].running_jobs >= 1


def test_sge_queue_slots_in_use_count_even_without_a_listed_job():
    qstat = parse_qstat_xml(
        (FIXTURES / "debian_sge819_qstat_f_u_r_ext_xml_disabled.xml").read_bytes()
    )
    qstat.running_per_host.clear()  # qstat -f without the job entries: slots_used remains
    hosts = parse_qhost_xml((FIXTURES / "debian_sge819_qhost_xml.xml").read_bytes())
    (node,) = merge_nodes(hosts, qstat)
    assert node.running_jobs >= 1 and node.state is LrmNodeState.DRAINING


def test_sge_a_queue_instance_with_no_host_and_no_work_is_unknown_not_absent():
    qstat = parse_qstat_xml(
        (FIXTURES / "debian_sge819_qstat_f_u_r_ext_xml_disabled.xml").read_bytes()
    )
    qstat.running_per_host.clear()
    for queue in qstat.queues:
        queue.slots_used = 0
    (node,) = merge_nodes(parse_qhost_xml(EMPTY_QHOST), qstat)
    assert node.state is LrmNodeState.UNKNOWN


def test_a_disagreement_counts_as_busy_and_an_omitted_node_is_added():
    nodes = (LrmNode("a", LrmNodeState.IDLE), LrmNode("b", LrmNodeState.DRAINED))
    merged = {n.name: n for n in merge_running(nodes, {"a": 1, "b": 2, "c": 1})}
    assert (merged["a"].state, merged["a"].running_jobs) == (LrmNodeState.BUSY, 1)
    assert (merged["b"].state, merged["b"].running_jobs) == (LrmNodeState.DRAINING, 2)
    assert (merged["c"].state, merged["c"].running_jobs) == (LrmNodeState.BUSY, 1)


def test_slurm_and_pbs_adapters_merge_the_job_listing(tmp_path: Path):
    from lrm_adapters._command import CommandRunner
    from lrm_adapters.pbs import PbsAdapter
    from lrm_adapters.slurm import SlurmAdapter
    from tests.factories import make_site

    site = make_site()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    slurm_fixtures = Path(__file__).parent.parent / "fixtures" / "slurm"
    squeue = slurm_fixtures / "rivos_squeue_json_21.08_v0.0.37.json"  # one job running on cs75
    write_tool(bin_dir, "squeue", squeue.read_text())
    write_tool(bin_dir, "sinfo", '{"sinfo": [], "nodes": [], "errors": [], "warnings": []}')
    write_tool(bin_dir, "scontrol", '{"reservations": [], "errors": []}')
    runner = CommandRunner(10, {"PATH": f"{bin_dir}:/usr/bin:/bin"})
    snapshot = SlurmAdapter(runner, site.vos).snapshot()
    (cs75,) = snapshot.nodes  # sinfo listed no node at all
    assert (cs75.name, cs75.state, cs75.running_jobs) == ("cs75", LrmNodeState.BUSY, 1)
    torque = Path(__file__).parent.parent / "fixtures" / "torque"
    write_tool(bin_dir, "qstat", (torque / "aiida_torque_qstat_f_ichec_newlines.txt").read_text())
    write_tool(bin_dir, "pbsnodes", "<Data></Data>")
    pbs = PbsAdapter(runner).snapshot()
    assert pbs.nodes and all(n.state is LrmNodeState.BUSY and n.running_jobs for n in pbs.nodes)


def write_tool(bin_dir: Path, name: str, output: str) -> None:
    data = bin_dir / f"{name}.out"
    data.write_text(output)
    tool = bin_dir / name
    tool.write_text(f"#!/bin/sh\ncat '{data}'\n")
    tool.chmod(0o755)
