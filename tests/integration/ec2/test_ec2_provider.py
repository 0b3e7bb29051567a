"""Ec2Provider against a real moto_server through boto3: tags, user-data, IMDSv2,
idempotent boots, site-scoped inventory, capacity fallback, throttling retries."""

from __future__ import annotations

import base64
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from elastic.model import BootRequest, ProviderKind, VMRef
from elastic.providers.base import CapacityError
from elastic.providers.ec2 import Ec2Provider
from tests.factories import make_site

pytestmark = pytest.mark.ec2
AMI = "ami-1e749f67"  # in moto's built-in image list


def site_for(endpoint: str, name: str = "t", **ec2: Any):
    return make_site(
        site={"name": name},
        ec2={
            "region": "us-east-1",
            "endpoint_url": endpoint,
            "instance_types": {"atlas": ["c5.xlarge", "m5.xlarge"], "cms": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2, "m5.xlarge": 0.25},
            **ec2,
        },
    )


def boot_request(
    node_id: str = "t-atlas-00001", types=("c5.xlarge", "m5.xlarge"), site: str = "t"
) -> BootRequest:
    return BootRequest(
        id=node_id,
        hostname=node_id,
        vo="atlas",
        site=site,
        provider=ProviderKind.EC2,
        location="us-east-1",
        cores=4,
        memory_mb=8000,
        disk_gb=20,
        image=AMI,
        user_data="#cloud-config\nhostname: x\n",
        instance_types=tuple(types),
    )


class Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any):
        yield self.data


def fail_first(provider: Ec2Provider, code: str, times: int, status: int = 400) -> list[str]:
    """Make RunInstances answer ``code`` ``times`` times; returns the types attempted."""
    attempts: list[str] = []

    def hook(request: Any, **_: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        attempts.append(
            next((p.split("=")[1] for p in body.split("&") if p.startswith("InstanceType=")), "?")
        )
        if len(attempts) > times:
            return None
        xml = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>injected</Message>"
            "</Error></Errors><RequestID>1</RequestID></Response>"
        ).encode()
        return AWSResponse(request.url, status, {}, Body(xml))

    provider.client.meta.events.register("before-send.ec2.RunInstances", hook)
    return attempts


def describe(endpoint: str, instance_id: str) -> dict[str, Any]:
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint)
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def test_boot_sets_tags_user_data_imdsv2_and_type(moto):
    provider = Ec2Provider(site_for(moto))
    vm = provider.boot(boot_request())
    instance = describe(moto, vm.instance_id)
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags == {
        "Name": "t-atlas-00001",
        "elastic:site": "t",
        "elastic:vo": "atlas",
        "elastic:node": "t-atlas-00001",
    }
    assert instance["InstanceType"] == "c5.xlarge" and instance["ImageId"] == AMI
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto)
    data = ec2.describe_instance_attribute(InstanceId=vm.instance_id, Attribute="userData")
    assert base64.b64decode(data["UserData"]["Value"]).decode() == "#cloud-config\nhostname: x\n"


def test_same_node_twice_is_one_instance_and_destroy_twice_is_fine(moto):
    provider = Ec2Provider(site_for(moto))
    first = provider.boot(boot_request())
    again = provider.boot(boot_request())
    assert first.instance_id == again.instance_id
    assert len(provider.inventory().vms) == 1
    provider.destroy(first)
    provider.destroy(first)
    # ended instances stay listed (marked) a while, so a reclaim fails its node at once
    assert [(vm.instance_id, vm.terminated) for vm in provider.inventory().vms] == [
        (first.instance_id, True)
    ]
    provider.destroy(VMRef("t-atlas-00077", ProviderKind.EC2, "us-east-1", "i-0123456789abcdef0"))


def test_inventory_sees_only_this_sites_tagged_instances(moto):
    mine = Ec2Provider(site_for(moto))
    other = Ec2Provider(
        make_site(
            site={"name": "other"},
            ec2={
                "endpoint_url": moto,
                "region": "us-east-1",
                "prices": {"c5.xlarge": 0.2},
                "instance_types": {"atlas": ["c5.xlarge"]},
            },
        )
    )
    mine.boot(boot_request("t-atlas-00001"))
    other.boot(boot_request("other-atlas-00001", site="other"))
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto)
    ec2.run_instances(ImageId=AMI, InstanceType="t3.micro", MinCount=1, MaxCount=1)
    assert [vm.node_id for vm in mine.inventory().vms] == ["t-atlas-00001"]
    assert mine.inventory().vms[0].vo == "atlas"


def test_insufficient_capacity_moves_to_the_next_type(moto):
    provider = Ec2Provider(site_for(moto))
    attempts = fail_first(provider, "InsufficientInstanceCapacity", times=1)
    vm = provider.boot(boot_request())
    assert attempts == ["c5.xlarge", "m5.xlarge"]
    assert describe(moto, vm.instance_id)["InstanceType"] == "m5.xlarge"


def test_instance_limit_is_a_capacity_error(moto):
    provider = Ec2Provider(site_for(moto))
    fail_first(provider, "InstanceLimitExceeded", times=99)
    with pytest.raises(CapacityError, match="InstanceLimitExceeded"):
        provider.boot(boot_request())


def test_all_types_without_capacity_is_a_capacity_error(moto):
    provider = Ec2Provider(site_for(moto))
    attempts = fail_first(provider, "InsufficientInstanceCapacity", times=99)
    with pytest.raises(CapacityError, match="no EC2 capacity"):
        provider.boot(boot_request())
    assert attempts == ["c5.xlarge", "m5.xlarge"]


def test_throttling_is_retried_by_botocore(moto):
    provider = Ec2Provider(site_for(moto))
    attempts = fail_first(provider, "RequestLimitExceeded", times=3, status=503)
    vm = provider.boot(boot_request())
    assert len(attempts) == 4  # three throttled, the fourth went through
    assert describe(moto, vm.instance_id)["State"]["Name"] in {"pending", "running"}


def test_spot_is_requested_when_configured(moto):
    provider = Ec2Provider(site_for(moto, spot=True))
    seen: list[str] = []
    provider.client.meta.events.register(
        "before-send.ec2.RunInstances",
        lambda request, **_: seen.append(
            request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        ),
    )
    provider.boot(boot_request())
    assert "InstanceMarketOptions.MarketType=spot" in seen[0]
