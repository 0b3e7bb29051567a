"""A base image missing on a libvirt host (libvirt's test driver, in this process) with EC2
on a real moto_server: the host backs off and the VO's demand fails over to EC2. Before,
every pass tried the same host again (60 failed boots in 20 passes) and EC2 never."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.model import ProviderKind
from elastic.providers.ec2 import Ec2Provider
from elastic.providers.libvirt import LibvirtProvider
from tests.factories import make_site
from tests.worlds import Clock, replay_engine

pytestmark = [pytest.mark.libvirt, pytest.mark.ec2]
REPO = Path(__file__).resolve().parents[3]


def test_a_host_without_the_base_image_backs_off_and_the_demand_goes_to_ec2(tmp_path, moto):
    host_xml = tmp_path / "hv1.xml"  # the pool lacks atlas-base.qcow2 on this host
    text = (REPO / "hosts/testhost-hv1.xml").read_text()
    host_xml.write_text(text.replace("atlas-base.qcow2", "other-base.qcow2"))
    site = make_site(
        site={"name": "lf", "state": str(tmp_path / "ledger.db")},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"libvirt": "atlas-base.qcow2", "ec2": "ami-1e749f67"},
                "cloud": {"allowed": True, "max_nodes": 2, "max_hourly_cost": 5.0},
            }
        ],
        local={
            "hosts": [{"name": "hv1", "uri": f"test://{host_xml}", "cores": 16, "memory_mb": 65536}]
        },
        ec2={
            "endpoint_url": moto,
            "region": "us-east-1",
            "instance_types": {"atlas": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2},
            "max_instances": 2,
        },
        policy={"boot_backoff_s": 60, "boot_failures_before_failover": 2},
    )
    job = {"id": "a", "project": "atlas", "cores": 4, "count": 1, "runtime_s": 10_000}
    clock = Clock(5_000_000.0)
    local = LibvirtProvider(site)
    providers = {ProviderKind.LIBVIRT: local, ProviderKind.EC2: Ec2Provider(site)}
    engine = replay_engine(site, tmp_path, [job], providers, clock)
    try:
        local_boots = []
        for _ in range(6):
            result = engine.run_pass()
            local_boots += [b for b in result.plan.boots if b.provider is ProviderKind.LIBVIRT]
            clock.now += 60
        # two failing passes on hv1, then the demand went to EC2, where it runs
        assert len(local_boots) == 2
        cloud = providers[ProviderKind.EC2].inventory().vms
        assert len([vm for vm in cloud if not vm.terminated]) == 1
        assert local.inventory().vms == ()
        (backoff,) = engine.ledger.backoffs()
        assert (backoff.location, backoff.failures) == ("hv1", 2)
        assert "base image 'atlas-base.qcow2' not found" in backoff.last_error
    finally:
        local.close()
