"""The whole loop with real parts: pending jobs in a real Son of Grid Engine, two libvirt
test-driver hosts with room for four workers, EC2 on a real moto_server.

First pass: four local VMs, the rest on EC2, each with the VO's metadata/tags and the
user-data elastic rendered, each registered in SGE. Each worker's execd then starts (in its
own network namespace, standing in for the VM's cloud-init; see workers.py), the workers
join, and the jobs run on them. The jobs are removed: idle cloud workers are drained and
destroyed before local ones, and the ledger ends with no VM unaccounted for.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from elastic.contextualize import render_user_data
from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import ProviderKind
from elastic.providers.ec2 import Ec2Provider
from elastic.providers.libvirt import LibvirtProvider
from elastic.wiring import user_data_renderer
from lrm_adapters._command import CommandRunner
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site, site_yaml
from tests.integration.conftest import wait_for
from tests.integration.e2e import workers

pytestmark = [pytest.mark.sge, pytest.mark.libvirt, pytest.mark.ec2, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
JOBS = 6


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path, moto, sge_env):
    hosts = []
    for name in ("hv1", "hv2"):
        shutil.copy(REPO / f"hosts/testhost-{name}.xml", tmp_path / f"{name}.xml")
        hosts.append(
            {"name": name, "uri": f"test://{tmp_path}/{name}.xml", "cores": 8, "memory_mb": 32000}
        )
    overrides = dict(
        site={"name": "e2e", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "sge", "options": {"sge_cell": sge_env["SGE_CELL"]}},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "atlas-base.qcow2", "ec2": "ami-1e749f67"},
                "max_nodes": 10,
                "cloud": {"allowed": True, "max_nodes": 5, "max_hourly_cost": 5.0},
                "context": {"template": "sge", "vars": {"qmaster": sge_env["SGE_HOST"]}},
            }
        ],
        local={"hosts": hosts},
        ec2={
            "endpoint_url": moto,
            "region": "us-east-1",
            "instance_types": {"atlas": ["c5.xlarge"]},
            "max_instances": 5,
        },
        policy={"boot_timeout_s": 600, "idle_timeout_cloud_s": 300, "idle_timeout_local_s": 900},
    )
    site = make_site(**overrides)
    (tmp_path / "site.yaml").write_text(site_yaml(**overrides))  # for the CLI's events
    env = {**os.environ, **{k: v for k, v in sge_env.items() if k.startswith("SGE_")}}
    # the queue is the demand: start from an empty one, whatever an earlier run left there
    subprocess.run(["qdel", "-f", "-u", "*"], env=env, capture_output=True, check=False)
    # all.q's np_load_avg threshold holds 4-slot jobs back while the machine is still busy
    # from earlier tests (the crash test's passes); the test's load is not elastic's
    thresholds = queue_value(env, "load_thresholds")
    set_queue(env, "load_thresholds", "NONE")
    names = [f"e2e-atlas-{i:05d}" for i in range(1, JOBS + 1)]
    workers.make_resolvable(names)
    runner = CommandRunner(20, {k: v for k, v in sge_env.items() if k.startswith("SGE_")})
    lrm = SgeAdapter(runner, site.vos)
    providers = {ProviderKind.LIBVIRT: LibvirtProvider(site), ProviderKind.EC2: Ec2Provider(site)}
    clock = Clock()
    engine = Engine(
        site, Ledger.open(site.state_path()), lrm, providers, user_data_renderer(), clock=clock
    )
    yield engine, clock
    set_queue(env, "load_thresholds", thresholds)
    subprocess.run(["qdel", "-f", "-u", "root"], env=env, capture_output=True, check=False)
    for index in range(1, JOBS + 1):
        workers.stop_execd(index)
    for node in engine.ledger.nodes(include_gone=True):  # never leave hosts in the real SGE
        lrm.remove_node(node.id)
    providers[ProviderKind.LIBVIRT].close()


def queue_value(env: dict[str, str], name: str) -> str:
    text = subprocess.run(
        ["qconf", "-sq", "all.q"], env=env, capture_output=True, text=True, check=True
    ).stdout
    return next(
        line.split(None, 1)[1].strip()
        for line in text.splitlines()
        if line.split(None, 1)[:1] == [name]
    )


def set_queue(env: dict[str, str], name: str, value: str) -> None:
    subprocess.run(
        ["qconf", "-rattr", "queue", name, value, "all.q"], env=env, capture_output=True, check=True
    )


def running_on(engine) -> dict[str, int]:
    return {n.name: n.running_jobs for n in engine.lrm.snapshot().nodes}


def test_local_first_then_ec2_then_cloud_retired_first(world, drmaa, sge_env):
    engine, clock = world
    ids = [
        drmaa.submit("/bin/sleep", "600", native="-P atlas -pe smp 4 -l h=e2e-atlas-*")[0]
        for _ in range(JOBS)
    ]
    first = engine.run_pass()
    assert not first.degraded, (first.errors, [r.error for r in first.results if not r.ok])
    local = [b for b in first.plan.boots if b.provider is ProviderKind.LIBVIRT]
    cloud = [b for b in first.plan.boots if b.provider is ProviderKind.EC2]
    assert (len(local), len(cloud)) == (4, 2)
    assert {b.location for b in local} == {"hv1", "hv2"}
    check_vms_and_user_data(engine, local, cloud)
    exec_hosts = engine.lrm.runner.run(["qconf", "-sel"]).split()
    assert {b.node_id for b in first.plan.boots} <= set(exec_hosts)

    booted = sorted(b.node_id for b in first.plan.boots)
    for name in booted:  # what each VM's cloud-init does: start its execd
        workers.start_execd(name, int(name[-5:]), sge_env["SGE_HOST"], sge_env)
    wait_for(
        lambda: sum(running_on(engine).get(n, 0) for n in booted) == JOBS,
        90,
        "every job to run on a worker",
    )
    clock.now += 60
    second = engine.run_pass()
    assert not second.plan.actions  # all ready and busy
    assert {n.state.value for n in engine.ledger.nodes()} == {"ready"}

    subprocess.run(["qdel", *ids], env=drmaa.env, capture_output=True, check=True)
    wait_for(lambda: not any(running_on(engine).get(n, 0) for n in booted), 60, "the jobs to go")
    clock.now += 60
    third = engine.run_pass()  # idle from now
    cloud_ids = {b.node_id for b in cloud}
    # the idle local workers can take atlas's next jobs: the cloud ones go at once,
    # without waiting out their idle timeout
    assert {d.node_id for d in third.plan.drains} == cloud_ids
    assert all("idle local worker" in d.reason for d in third.plan.drains)
    # SGE is read again after the drain: the disabled, empty queues are destroyed at once
    assert {d.node_id for d in third.followup} == cloud_ids
    assert not third.degraded, [r.error for r in third.results if not r.ok]
    assert all(vm.terminated for vm in engine.providers[ProviderKind.EC2].inventory().vms)
    assert len(engine.providers[ProviderKind.LIBVIRT].inventory().vms) == 4
    for boot in cloud:
        workers.stop_execd(int(boot.node_id[-5:]))

    clock.now += 901  # the local idle timeout
    fifth = engine.run_pass()
    assert {d.node_id for d in fifth.plan.drains} == {b.node_id for b in local}
    assert {d.node_id for d in fifth.followup} == {b.node_id for b in local}
    assert engine.providers[ProviderKind.LIBVIRT].inventory().vms == ()
    assert engine.ledger.nodes() == []
    assert not engine.ledger.open_intents()
    left = set(engine.lrm.runner.run(["qconf", "-sel"]).split())
    assert not left & set(booted)
    check_events(engine, cloud[0].node_id, local[0].node_id)


def check_events(engine, cloud_node: str, local_node: str) -> None:
    """``elastic events`` tells each node's life from the ledger this real run wrote: asked
    for, booted on its provider, registered with and joined SGE, drained for its reason,
    destroyed once SGE showed it drained and empty."""
    config = str(engine.site.state_path().parent / "site.yaml")

    def events(*args: str) -> list[dict[str, object]]:
        done = subprocess.run(
            [sys.executable, "-m", "elastic.cli", "-c", config, "events", "--json", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    for node, where, why in (
        (cloud_node, "us-east-1", "idle local worker"),
        (local_node, "hv", "idle"),
    ):
        life = events("--node", node)
        assert {e["node"] for e in life} == {node}
        kinds = [e["kind"] for e in life]
        # a joined node is found by reconcile; retiring is the destroy's intent
        life_kinds = ["node", "booting", "joining", "reconcile", "draining", "retiring", "gone"]
        assert kinds == life_kinds, [(e["kind"], e["message"]) for e in life]
        messages = {e["kind"]: e["message"] for e in life}
        assert messages["node"].startswith("requested: pending jobs of atlas")
        assert where in messages["booting"]
        assert messages["reconcile"] == "joined the LRM"
        assert messages["gone"].startswith("drained and empty")
        assert why in messages["draining"]
    mine = events("--vo", "atlas")
    assert {cloud_node, local_node} <= {e["node"] for e in mine}
    assert [e["at"] for e in mine] == sorted(e["at"] for e in mine)  # newest last


def check_vms_and_user_data(engine, local, cloud) -> None:
    libvirt_vms = engine.providers[ProviderKind.LIBVIRT].inventory().vms
    assert sorted(vm.node_id for vm in libvirt_vms) == sorted(b.node_id for b in local)
    assert {vm.vo for vm in libvirt_vms} == {"atlas"}
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=engine.site.ec2.endpoint_url)
    for boot in cloud:
        instance = ec2.describe_instances(
            Filters=[{"Name": "tag:elastic:node", "Values": [boot.node_id]}]
        )["Reservations"][0]["Instances"][0]
        tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
        assert (tags["elastic:vo"], tags["elastic:site"]) == ("atlas", "e2e")
        data = ec2.describe_instance_attribute(
            InstanceId=instance["InstanceId"], Attribute="userData"
        )["UserData"]["Value"]
        expected = render_user_data(engine.site, "atlas", boot.node_id, boot.node_id, cloud=True)
        assert base64.b64decode(data).decode() == expected
