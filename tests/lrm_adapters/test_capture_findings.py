"""Issue 11's parser findings, each on the real capture that showed it (tests/fixtures/SOURCES.md):
Torque's ``start_time``, PBS Pro's ``project``, Slurm's reason codes, HTCondor's Owner
slots and SGE's ``slots_used`` with no job listed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import classad2

from elastic.model import LrmNodeState, QueueSnapshot
from elastic.planning.demand import freeing_cores
from elastic.vomatch import label_snapshot
from lrm_adapters.htcondor import nodes_from_ads
from lrm_adapters.pbs_parse import parse_qstat_json, parse_qstat_text, parse_qstat_xml
from lrm_adapters.sge_parse import merge_nodes, parse_qhost_xml
from lrm_adapters.sge_parse import parse_qstat_xml as sge_qstat
from lrm_adapters.slurm_parse import parse_squeue_json
from lrm_adapters.slurm_text import parse_scontrol_jobs
from tests.factories import make_site

FIXTURES = Path(__file__).parent.parent / "fixtures"
EMPTY_QHOST = b"<?xml version='1.0'?><qhost xmlns:xsd='x'></qhost>"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


# --- Torque: start_time (PBS Pro writes stime) ------------------------------------------


def test_torque6_qstat_f_running_job_has_its_start_time_and_frees_its_cores():
    (job,) = parse_qstat_text(read("torque/dirac_rrcki_qstat_f_torque6_running.txt"))[0]
    # start_time = Wed Aug 11 17:13:12 2021 (local time, as every PBS stamp)
    assert job.running and job.start_time is not None and job.walltime_s == 120 * 3600
    ends = job.start_time + 120 * 3600
    labelled = [replace(job, vo="lhcb")]
    assert freeing_cores(labelled, ends - 200, 300) == {"lhcb": 1}
    assert freeing_cores(labelled, ends - 1000, 300) == {}


def test_torque_qstat_x_running_multi_node_jobs_have_start_times():
    jobs, per_host = parse_qstat_xml(read("torque/xenon_surfsara_qstat_x_running_start_time.xml"))
    running = {j.id: j for j in jobs if j.running}
    assert running["8938236"].start_time == 1432372620.0
    assert (running["8938236"].cores, running["8938236"].nodes) == (96, 8)
    assert all(j.start_time is not None for j in running.values())
    assert all(j.start_time is None for j in jobs if not j.running)
    assert len(per_host) == 11


# --- PBS Pro: project -------------------------------------------------------------------


def test_pbspro_project_is_read_and_matches_a_vo_by_project():
    jobs, _ = parse_qstat_json(read("pbspro/aurora_qstat_x_f_F_json_2022.1.7.json"))
    (held,) = jobs  # the three finished jobs are left out
    assert held.project == "EnergyApps"
    vos = make_site(
        vos=[
            {
                "name": "energy",
                "match": {"project": ["EnergyApps"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
            }
        ],
        ec2={"instance_types": {}},
    ).vos
    (labelled,) = label_snapshot(QueueSnapshot(tuple(jobs)), vos).jobs
    assert labelled.vo == "energy"


def test_pbs_default_project_is_no_project():
    jobs, _ = parse_qstat_json(read("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json"))
    assert [j.project for j in jobs] == [None]  # "_pbs_project_default"
    text_jobs, _ = parse_qstat_text(read("pbspro/aiida_pbspro_qstat_f_multi.txt"))
    assert text_jobs and all(j.project is None for j in text_jobs)


# --- Slurm: reason codes ----------------------------------------------------------------


def test_slurm_association_cpu_limit_and_partition_config_are_not_demand():
    jobs, _ = parse_scontrol_jobs(read("slurm/irush_scontrol_d_show_job_limits.txt"))
    pending = {j.id: j for j in jobs if not j.running}
    assert pending["134238037"].reason == "AssocGrpCpuLimit"
    assert pending["20547"].reason == "PartitionConfig"
    assert not pending["134238037"].runnable and not pending["20547"].runnable
    assert all(j.runnable for j in jobs if j.running)


def test_slurm_req_node_not_avail_on_a_named_node_is_not_demand():
    jobs, _ = parse_scontrol_jobs(read("slurm/toil_scontrol_show_job_multiline.txt"))
    (pending,) = [j for j in jobs if not j.running]
    assert pending.reason == "ReqNodeNotAvail,_UnavailableNodes:wn-db-05"  # ReqNodeList=wn-db-05
    assert pending.runnable is False


def test_slurm_json_waiting_for_room_is_demand_and_limits_are_not():
    jobs, _ = parse_squeue_json(read("slurm/slurmweb_slurmrestd_25.05_v0.0.41_jobs.json"))
    by_reason = {j.reason: j.runnable for j in jobs if not j.running}
    assert by_reason["Resources"] is True and by_reason["Priority"] is True
    text = read("slurm/rivos_squeue_json_21.08_v0.0.37.json").replace(
        '"Dependency"', '"AssocGrpCpuLimit"'
    )
    (pending,) = [j for j in parse_squeue_json(text)[0] if not j.running]
    assert (pending.reason, pending.runnable) == ("AssocGrpCpuLimit", False)


# --- HTCondor: Owner slots ----------------------------------------------------------------


def test_htcondor_owner_slots_are_not_idle_capacity():
    text = read("htcondor/gip_unl_condor_status_xml_owner_trimmed.xml")
    ads = list(classad2.parseAds(text, classad2.ParserType.XML))
    nodes = {n.name: (n.state, n.cores, n.running_jobs) for n in nodes_from_ads(ads)}
    assert nodes == {
        "head.unl.edu": (LrmNodeState.DRAINED, 0, 0),  # 4 slots, every one Owner
        "r02n26.unl.edu": (LrmNodeState.IDLE, 4, 0),  # 4 Unclaimed
        "r02n30.unl.edu": (LrmNodeState.BUSY, 4, 2),  # 2 Unclaimed, 2 Claimed
        "r04n14.unl.edu": (LrmNodeState.IDLE, 1, 0),  # 3 Owner, 1 Unclaimed
    }


# --- SGE: slots_used with no job listed ---------------------------------------------------


def test_sge_queue_instances_with_slots_used_and_no_job_list_are_busy():
    qstat = sge_qstat(read("sge/gip_qstat_f_xml_slots_used_no_jobs.xml").encode())
    assert qstat.jobs == [] and not qstat.running_per_host  # no job in the listing
    nodes = {n.name: n for n in merge_nodes(parse_qhost_xml(EMPTY_QHOST), qstat)}
    used = {q.host for q in qstat.queues if q.slots_used > 0}
    assert "a4" in used and "a3" not in used
    assert all(nodes[h].state is LrmNodeState.BUSY and nodes[h].running_jobs >= 1 for h in used)
    assert nodes["a3"].state is LrmNodeState.UNKNOWN  # listed by qstat only, no work
