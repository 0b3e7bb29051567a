"""Where each running job runs (``Job.hosts``), from real outputs of every LRM: a
reservation's room is drained ahead only by the walltimes of the jobs on each host
(``elastic.reconcile.work_ends``), so a job's hosts must agree with the per-host counts."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from elastic.model import Job
from lrm_adapters.pbs_parse import parse_qstat_json, parse_qstat_text
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_parse import parse_squeue_json
from lrm_adapters.slurm_text import parse_scontrol_jobs

FIXTURES = Path(__file__).parent.parent / "fixtures"


def sge(text: str) -> tuple[list[Job], Counter[str]]:
    result = parse_qstat_xml(text)
    return result.jobs, result.running_per_host


CASES = [  # fixture, parser, a running job, its hosts
    ("slurm/rivos_squeue_json_21.08_v0.0.37.json", parse_squeue_json, "26515966", ("cs75",)),
    ("slurm/slurmweb_slurmrestd_25.05_v0.0.41_jobs.json", parse_squeue_json, "4", ("cn1", "cn2")),
    ("slurm/clues_scontrol_o_show_jobs_20.02.txt", parse_scontrol_jobs, "2", ("vnode-1",)),
    ("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json", parse_qstat_json, "1006", ("pbs",)),
    (
        "pbspro/aiida_pbspro_qstat_f_multi.txt",
        parse_qstat_text,
        "69301",
        ("b141", "b142", "b143", "b144"),
    ),
    ("sge/ood_qstat_u_r_xml_pending_running.xml", sge, "88", ("worker",)),
    ("sge/debian_sge819_qstat_u_r_ext_xml.xml", sge, "1", ("vm",)),
]


@pytest.mark.parametrize(("fixture", "parse", "job_id", "hosts"), CASES)
def test_running_jobs_name_their_hosts_as_the_counts_do(fixture, parse, job_id, hosts):
    jobs, per_host = parse((FIXTURES / fixture).read_text())
    job = next(j for j in jobs if j.id == job_id and j.running)
    assert job.hosts == hosts
    assert Counter(h for j in jobs if j.running for h in j.hosts) == per_host
    assert all(j.hosts == () for j in jobs if not j.running)
