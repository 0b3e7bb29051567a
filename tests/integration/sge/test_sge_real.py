"""The SGE adapter against a real Son of Grid Engine 8.1.9 (scripts/services/sge-up)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from elastic.model import LrmNodeState
from elastic.reconcile import work_ends
from elastic.vomatch import label_snapshot
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.sge
#: Jobs aimed at a host that does not exist yet stay pending: the autoscaler's case.
NOWHERE = "-l h=elastic-w8"


def test_drmaa_jobs_show_up_as_demand_with_vo_cores_and_memory(sge, drmaa):
    (pe_job,) = drmaa.submit(
        "/bin/sleep", "60", native=f"-P atlas -pe smp 2 -l h_vmem=1G {NOWHERE}"
    )
    array = drmaa.submit("/bin/sleep", "1", native=f"-P cms {NOWHERE}", count=7)
    (held,) = drmaa.submit("/bin/sleep", "1", native=f"-P atlas -h {NOWHERE}")
    jobs = {j.id: j for j in label_snapshot(sge.snapshot(), make_site().vos).jobs}
    assert (jobs[pe_job].vo, jobs[pe_job].cores, jobs[pe_job].memory_mb) == ("atlas", 2, 2048)
    assert jobs[pe_job].runnable and not jobs[pe_job].running
    array_job = jobs[array[0].split(".")[0]]
    assert (array_job.vo, array_job.count, array_job.runnable) == ("cms", 7, True)
    assert jobs[held].runnable is False and jobs[held].vo == "atlas"


def members(sge: SgeAdapter, command: list[str]) -> str:
    try:
        return sge.runner.run(command)
    except LRMError as exc:
        return exc.stderr


def test_register_drain_remove_are_real_and_idempotent(sge):
    host = "elastic-w3"
    try:
        for _ in range(2):
            sge.register_node(host, "atlas")
        assert host in sge.runner.run(["qconf", "-sel"]).split()
        assert host in sge.runner.run(["qconf", "-shgrp", "@atlas"])
        assert "@atlas" in sge.runner.run(["qconf", "-sq", "all.q"])
        nodes = {n.name: n for n in sge.snapshot().nodes}
        assert nodes[host].state is LrmNodeState.DOWN  # registered, but no execd reports yet
        for _ in range(2):
            sge.drain_node(host, "test drain")
        queue_states = sge.runner.run(["qstat", "-f", "-q", f"all.q@{host}"])
        assert "d" in queue_states.splitlines()[2].split()[-1]
    finally:
        for _ in range(2):
            sge.remove_node(host)
    assert host not in members(sge, ["qconf", "-sel"]).split()
    assert host not in members(sge, ["qconf", "-sh"]).split()
    assert host not in sge.runner.run(["qconf", "-shgrp", "@atlas"])
    assert host not in {n.name for n in sge.snapshot().nodes}


def test_concurrent_registrations_of_a_new_vo_all_land(sge):
    """The actuator registers a pass's nodes from several threads; the first nodes of a
    VO race to create its host group."""
    hosts = [f"elastic-w{i}" for i in (1, 2, 5, 6)]  # names sge-up made resolvable
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(lambda h: sge.register_node(h, "racevo"), hosts))
        assert set(hosts) <= set(sge.runner.run(["qconf", "-sel"]).split())
        assert set(hosts) <= set(sge.runner.run(["qconf", "-shgrp", "@racevo"]).split())
        assert sge.runner.run(["qconf", "-sq", "all.q"]).count("@racevo") == 1
    finally:
        for host in hosts:
            sge.remove_node(host)
        members(sge, ["qconf", "-dattr", "queue", "hostlist", "@racevo", "all.q"])
        members(sge, ["qconf", "-dhgrp", "@racevo"])
    assert "@racevo" not in members(sge, ["qconf", "-shgrpl"])


def test_a_cloud_worker_is_the_schedulers_last_choice_until_removed(sge):
    host = "elastic-w7"
    try:
        sge.register_node(host, "atlas", cloud=True)
        assert f"[{host}=100]" in sge.runner.run(["qconf", "-sq", "all.q"])
        assert "queue_sort_method                 seqno" in sge.runner.run(["qconf", "-ssconf"])
    finally:
        sge.remove_node(host)
    assert host not in sge.runner.run(["qconf", "-sq", "all.q"])


def test_a_job_runs_on_the_real_execd_and_the_probe_succeeds(sge, drmaa, sge_env):
    result = drmaa.probe(sge_env["SGE_HOST"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ran on" in result.stdout


def test_running_jobs_carry_start_walltime_and_submission_from_real_qstat(sge, drmaa, sge_env):
    """What the planner's walltime rule reads (times in the qmaster's local format)."""
    before = time.time()
    (job_id,) = drmaa.submit(
        "/bin/sleep", "60", native=f"-P atlas -l h_rt=120 -l h={sge_env['SGE_HOST']}"
    )

    def running() -> bool:
        return any(j.id == job_id and j.running for j in sge.snapshot().jobs)

    wait_for(running, 60, "the job to start on the real execd")
    (waiting_id,) = drmaa.submit("/bin/sleep", "1", native=f"-P atlas {NOWHERE}")
    snapshot = sge.snapshot()
    jobs = {j.id: j for j in label_snapshot(snapshot, make_site().vos).jobs}
    job, waiting = jobs[job_id], jobs[waiting_id]
    assert job.walltime_s == 120 and job.vo == "atlas"
    # where it runs, and so when its host's work ends: what a reservation drains ahead by
    assert job.hosts == (sge_env["SGE_HOST"],)
    assert job.start_time is not None
    assert work_ends(snapshot)[sge_env["SGE_HOST"]] == job.start_time + 120
    # SGE stamps whole seconds (qstat prints the start of a running job and the
    # submission of a pending one): allow the truncation
    assert job.start_time is not None and before - 1 <= job.start_time <= time.time() + 1
    assert waiting.submit_time is not None and job.start_time - 1 <= waiting.submit_time
    assert waiting.submit_time <= time.time() + 1


def test_unreachable_qmaster_is_an_lrm_error_with_command_and_stderr(sge_env):
    env = {k: v for k, v in sge_env.items() if k.startswith("SGE_")}
    dead = SgeAdapter(CommandRunner(10, {**env, "SGE_QMASTER_PORT": "1"}), make_site().vos)
    started = time.monotonic()
    with pytest.raises(LRMError) as caught:
        dead.snapshot()
    assert time.monotonic() - started < 10
    assert caught.value.command[0] == "qstat"
    assert caught.value.stderr  # the qmaster error text, not a silent empty queue


def test_drmaa_probe_passes_on_a_working_node_and_fails_on_a_silent_one(sge, sge_env):
    from elastic.wiring import drmaa_probe

    site = make_site(
        lrm={
            "kind": "sge",
            "options": {
                **{
                    k: v for k, v in sge_env.items() if k.isupper() and not k.startswith("SGE_HOST")
                },
                "sge_cell": sge_env["SGE_CELL"],
                "probe_timeout_s": "8",
            },
        }
    )
    probe = drmaa_probe(site)
    assert probe(sge_env["SGE_HOST"]) is True
    silent = "elastic-w4"
    try:
        sge.register_node(silent, "atlas")  # known to SGE, but no execd ever reports
        assert probe(silent) is False
    finally:
        sge.remove_node(silent)
