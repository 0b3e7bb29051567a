"""The whole loop with real parts: pending jobs in a real Son of Grid Engine, two libvirt
test-driver hosts with room for four workers, EC2 on a real moto_server.

First pass: four local VMs, the rest on EC2, each with the VO's metadata/tags and the
user-data elastic rendered, each registered in SGE. Then the jobs are removed: the workers
(which have no real execd to report, so SGE shows them down) are destroyed once past
their boot deadline, and the ledger ends with no VM unaccounted for.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
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
from tests.factories import make_site

pytestmark = [pytest.mark.sge, pytest.mark.libvirt, pytest.mark.ec2, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[3]
JOBS = 6


def resolvable(names: list[str]) -> None:
    """qconf -ah refuses names that do not resolve: give the test workers addresses."""
    hosts = Path("/etc/hosts")
    text = hosts.read_text()
    missing = [n for n in names if f" {n}\n" not in text]
    if missing:
        with hosts.open("a") as out:
            for index, name in enumerate(missing, 1):
                out.write(f"127.0.2.{index + 20} {name}\n")


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world(tmp_path, moto, sge_env):
    hosts = []
    for name in ("hv1", "hv2"):
        shutil.copy(REPO / f"templates/libvirt/testhost-{name}.xml", tmp_path / f"{name}.xml")
        hosts.append(
            {"name": name, "uri": f"test://{tmp_path}/{name}.xml", "cores": 8, "memory_mb": 32000}
        )
    site = make_site(
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
        policy={"boot_timeout_s": 600},
    )
    resolvable([f"e2e-atlas-{i:05d}" for i in range(1, 11)])
    runner = CommandRunner(20, {k: v for k, v in sge_env.items() if k.startswith("SGE_")})
    lrm = SgeAdapter(runner, site.vos)
    providers = {ProviderKind.LIBVIRT: LibvirtProvider(site), ProviderKind.EC2: Ec2Provider(site)}
    clock = Clock()
    engine = Engine(
        site, Ledger.open(site.state_path()), lrm, providers, user_data_renderer(), clock=clock
    )
    yield engine, clock
    for node in engine.ledger.nodes(include_gone=True):  # never leave hosts in the real SGE
        lrm.remove_node(node.id)
    providers[ProviderKind.LIBVIRT].close()


def test_local_first_then_ec2_and_nothing_left_behind(world, drmaa):
    engine, clock = world
    ids = [
        drmaa.submit("/bin/sleep", "60", native="-P atlas -pe smp 4 -l h=elastic-w8")[0]
        for _ in range(JOBS)
    ]
    first = engine.run_pass()
    assert not first.degraded, (first.errors, [r.error for r in first.results if not r.ok])
    local = [b for b in first.plan.boots if b.provider is ProviderKind.LIBVIRT]
    cloud = [b for b in first.plan.boots if b.provider is ProviderKind.EC2]
    assert (len(local), len(cloud)) == (4, 2)
    assert {b.location for b in local} == {"hv1", "hv2"}

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
        expected = render_user_data(engine.site, "atlas", boot.node_id, boot.node_id)
        assert base64.b64decode(data).decode() == expected
    exec_hosts = engine.lrm.runner.run(["qconf", "-sel"]).split()
    assert {b.node_id for b in first.plan.boots} <= set(exec_hosts)

    clock.now += 60
    second = engine.run_pass()  # demand is covered by the booting nodes: nothing new
    assert not second.plan.boots

    subprocess.run(["qdel", *ids], env=drmaa.env, capture_output=True, check=True)
    clock.now += 601  # past the boot deadline: the workers never reported to SGE
    third = engine.run_pass()
    assert len(third.plan.destroys) == JOBS and all(r.ok for r in third.results)
    assert engine.providers[ProviderKind.LIBVIRT].inventory().vms == ()
    assert engine.providers[ProviderKind.EC2].inventory().vms == ()
    assert engine.ledger.nodes() == []
    assert not engine.ledger.open_intents()
    left = set(engine.lrm.runner.run(["qconf", "-sel"]).split())
    assert not left & {b.node_id for b in first.plan.boots}
