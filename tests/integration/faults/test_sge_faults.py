"""Issue 10's LRM faults with the real Son of Grid Engine and EC2 on a real moto_server:
an administrator's own drain, an empty-but-valid qhost, a worker whose execd went away.

The workers' execds run in network namespaces (tests/integration/e2e/workers.py), so the
real qmaster sees real hosts run real jobs. The fake qhost is a script first on the
adapter's PATH printing well-formed XML with no hosts, as a qmaster that lost its spool.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import LrmNodeState, NodeState, ProviderKind
from elastic.providers.ec2 import Ec2Provider
from elastic.wiring import user_data_renderer
from lrm_adapters._command import CommandRunner
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site
from tests.integration.conftest import wait_for
from tests.integration.crash.world import ensure_sge
from tests.integration.e2e import workers
from tests.worlds import Clock

pytestmark = [pytest.mark.sge, pytest.mark.ec2, pytest.mark.slow]
QUEUE = "faults.q"  # the fault tests' own queue, without all.q's load threshold
FIRST = 40  # worker indexes (namespaces, addresses) apart from the e2e test's
EMPTY_QHOST = "<?xml version='1.0'?>\n<qhost xmlns:xsd='http://x'>\n</qhost>\n"


@pytest.fixture
def world(tmp_path, moto, sge_env):
    site = make_site(
        site={"name": "flt", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "sge", "options": {"sge_cell": sge_env["SGE_CELL"]}},
        vos=[
            {
                # a VO (so an SGE host group) of its own: @atlas is e2e's, and a host of
                # two queues takes two jobs
                "name": "flt",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"ec2": "ami-1e749f67"},
                "max_nodes": 4,
                "cloud": {"allowed": True, "max_nodes": 4, "max_hourly_cost": 5.0},
                "context": {"template": "sge", "vars": {"qmaster": sge_env["SGE_HOST"]}},
            }
        ],
        local={"hosts": []},
        ec2={
            "endpoint_url": moto,
            "region": "us-east-1",
            "instance_types": {"flt": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2},
            "max_instances": 4,
        },
        policy={"idle_timeout_cloud_s": 36000, "dark_timeout_s": 600, "max_boots_per_pass": 4},
    )
    env = {**os.environ, **{k: v for k, v in sge_env.items() if k.startswith("SGE_")}}
    names = [f"flt-flt-{i:05d}" for i in (1, 2)]
    workers.make_resolvable(names, first=FIRST + 1)
    for index in (1, 2):  # what an interrupted earlier run may have left
        workers.stop_execd(FIRST + index)
    fake_bin = tmp_path / "fake-bin"
    fake_bin.mkdir()
    (fake_bin / "qhost").write_text(f"#!/bin/sh\ncat <<'EOF'\n{EMPTY_QHOST}EOF\n")
    (fake_bin / "qhost").chmod(0o755)
    sge = {k: v for k, v in sge_env.items() if k.startswith("SGE_")}
    ensure_sge([], env, QUEUE)  # a queue without all.q's load threshold (see ensure_sge)
    lrm = SgeAdapter(CommandRunner(20, sge), site.vos, queue=QUEUE)
    clock = Clock(2_000_000.0)
    engine = Engine(
        site,
        Ledger.open(site.state_path()),
        lrm,
        {ProviderKind.EC2: Ec2Provider(site)},
        user_data_renderer(),
        clock=clock,
    )
    yield engine, clock, env, fake_bin, sge  # the drmaa fixture deletes the test's own jobs
    for index in (1, 2):
        workers.stop_execd(FIRST + index)
    for node in engine.ledger.nodes(include_gone=True):
        lrm.remove_node(node.id)


def jobs_on(engine) -> dict[str, int]:
    return {n.name: n.running_jobs for n in engine.lrm.snapshot().nodes}


def busy(engine) -> set[str]:
    return {n.name for n in engine.lrm.snapshot().nodes if n.state is LrmNodeState.BUSY}


def instances(engine) -> set[str]:
    return {
        vm.node_id for vm in engine.providers[ProviderKind.EC2].inventory().vms if not vm.terminated
    }


def test_admin_drain_empty_qhost_and_a_dark_worker(world, drmaa, sge_env):
    engine, clock, env, fake_bin, sge = world
    # one job per worker (the names elastic will give them): SGE would put both jobs on
    # one host whose queues offer the slots, since a host's queues do not share a limit
    ids = [
        drmaa.submit("/bin/sleep", "600", native=f"-P atlas -pe smp 4 -l h=flt-flt-{n:05d}")[0]
        for n in (1, 2)
    ]
    first = engine.run_pass()
    assert len(first.plan.boots) == 2, first.errors
    w1, w2 = sorted(b.node_id for b in first.plan.boots)
    for name in (w1, w2):
        workers.start_execd(name, FIRST + int(name[-5:]), sge_env["SGE_HOST"], sge_env)
    wait_for(lambda: busy(engine) >= {w1, w2}, 120, "both jobs to run, the execds reporting")
    clock.now += 60
    engine.run_pass()
    assert {n.state for n in engine.ledger.nodes()} == {NodeState.READY}

    # 1. an administrator drains w1 in SGE itself: respected, kept while its job runs
    subprocess.run(["qmod", "-d", f"*@{w1}"], env=env, capture_output=True, check=True)
    clock.now += 60
    engine.run_pass()
    assert engine.ledger.get(w1).state is NodeState.DRAINING
    assert w1 in instances(engine)

    # 2. qhost answers, well-formed, with no hosts at all, while qstat still runs the jobs
    real = engine.lrm.runner
    engine.lrm.runner = CommandRunner(20, {**sge, "PATH": f"{fake_bin}:{os.environ['PATH']}"})
    clock.now += 60
    blind = engine.run_pass()
    seen = {n.id: n.lrm_state for n in blind.observation.nodes}
    assert seen == {w1: LrmNodeState.DRAINING, w2: LrmNodeState.BUSY}  # qstat's jobs count
    assert not blind.plan.destroys and not blind.followup
    assert {w1, w2} <= instances(engine)  # the draining node with its running job survives
    engine.lrm.runner = real

    # 3. w1's job ends: the drained, empty node is destroyed and leaves SGE; never undrained
    queues = subprocess.run(
        ["qstat", "-f", "-q", f"*@{w1}"], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert " d" in queues or "d\n" in queues
    job_on_w1 = next(
        i
        for i in ids
        if w1
        in subprocess.run(
            ["qstat", "-j", i.split(".")[0]], env=env, capture_output=True, text=True
        ).stdout
        or True
    )
    subprocess.run(
        ["qdel", "-f", *[i.split(".")[0] for i in ids]], env=env, capture_output=True, check=False
    )
    del job_on_w1
    wait_for(lambda: not any(jobs_on(engine).get(n) for n in (w1, w2)), 60, "the jobs to end")
    clock.now += 60
    engine.run_pass()
    assert w1 not in instances(engine)
    assert engine.ledger.get(w1).state is NodeState.GONE
    exec_hosts = subprocess.run(["qconf", "-sel"], env=env, capture_output=True, text=True).stdout
    assert w1 not in exec_hosts.split()

    # 4. w2's execd goes away (its VM still bills): dark, then failed and destroyed
    subprocess.run(["qconf", "-ke", w2], env=env, capture_output=True, check=False)
    wait_for(
        lambda: (
            next((n.state for n in engine.lrm.snapshot().nodes if n.name == w2), None)
            in {LrmNodeState.DOWN, LrmNodeState.ABSENT}
        ),
        120,
        "SGE to show the worker down",
    )
    clock.now += 60
    engine.run_pass()
    assert engine.ledger.get(w2).dark_since is not None
    assert w2 in instances(engine)  # not before dark_timeout_s
    clock.now += 601
    engine.run_pass()
    assert w2 not in instances(engine)
    assert engine.ledger.get(w2).state is NodeState.GONE
    assert engine.ledger.open_intents() == []
    assert Path(engine.site.state_path()).exists()
