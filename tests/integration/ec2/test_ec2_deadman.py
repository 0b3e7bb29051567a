"""What the cloud workers' dead-man switch needs from Ec2Provider, against a real
moto_server: launches that terminate on power-off and expose tags in IMDS, and the
controller's heartbeat tag on every live instance of the site, in one CreateTags call.
Issue 10: "Node-side dead-man switch (cloud workers)"."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from elastic.providers.base import ProviderError
from elastic.providers.ec2 import Ec2Provider
from tests.integration.ec2.test_ec2_provider import Body, boot_request, describe, site_for

pytestmark = pytest.mark.ec2
NOW = 1_760_000_000.7


def heartbeat_of(endpoint: str, instance_id: str) -> str | None:
    tags = {t["Key"]: t["Value"] for t in describe(endpoint, instance_id).get("Tags", [])}
    return tags.get("elastic:heartbeat")


def count_calls(provider: Ec2Provider, operation: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(params)

    provider.client.meta.events.register(f"provide-client-params.ec2.{operation}", hook)
    return calls


def other_site(endpoint: str) -> Ec2Provider:
    return Ec2Provider(site_for(endpoint, name="other"))


def test_a_worker_terminates_when_it_powers_itself_off_and_sees_its_tags(moto):
    vm = Ec2Provider(site_for(moto)).boot(boot_request())
    ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=moto)
    answer = ec2.describe_instance_attribute(
        InstanceId=vm.instance_id, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert answer["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    options = describe(moto, vm.instance_id)["MetadataOptions"]
    assert options["InstanceMetadataTags"] == "enabled" and options["HttpTokens"] == "required"


def test_the_heartbeat_tags_every_live_instance_of_the_site_in_one_call(moto):
    mine = Ec2Provider(site_for(moto))
    vms = [mine.boot(boot_request(f"t-atlas-0000{i}")) for i in (1, 2, 3)]
    gone = mine.boot(boot_request("t-atlas-00009"))
    mine.destroy(gone)
    theirs = other_site(moto).boot(boot_request("other-atlas-00001", site="other"))
    calls = count_calls(mine, "CreateTags")
    mine.publish_heartbeat(NOW)
    assert len(calls) == 1
    assert sorted(calls[0]["Resources"]) == sorted(vm.instance_id for vm in vms)
    assert all(heartbeat_of(moto, vm.instance_id) == "1760000000" for vm in vms)
    assert heartbeat_of(moto, theirs.instance_id) is None  # another site's: untouched
    assert heartbeat_of(moto, gone.instance_id) is None  # terminated: not tagged
    mine.publish_heartbeat(NOW + 60)
    assert heartbeat_of(moto, vms[0].instance_id) == "1760000060"
    assert len(calls) == 2


def test_no_instances_no_create_tags_call(moto):
    provider = Ec2Provider(site_for(moto))
    other_site(moto).boot(boot_request("other-atlas-00001", site="other"))
    calls = count_calls(provider, "CreateTags")
    provider.publish_heartbeat(NOW)
    assert calls == []


def test_a_failed_heartbeat_is_a_provider_error(moto):
    provider = Ec2Provider(site_for(moto))
    provider.boot(boot_request())

    def refuse(request: Any, **_: Any) -> AWSResponse:
        xml = (
            b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>no</Message>"
            b"</Error></Errors><RequestID>1</RequestID></Response>"
        )
        return AWSResponse(request.url, 403, {}, Body(xml))

    provider.client.meta.events.register("before-send.ec2.CreateTags", refuse)
    with pytest.raises(ProviderError, match="UnauthorizedOperation"):
        provider.publish_heartbeat(NOW)


def test_more_than_a_thousand_instances_go_in_batches(monkeypatch):
    """EC2 takes at most 1000 resource ids per CreateTags call (no moto needed)."""
    provider = Ec2Provider(site_for("http://127.0.0.1:9"))
    ids = [f"i-{n:017x}" for n in range(2500)]
    monkeypatch.setattr(provider, "_instances", lambda filters: [{"InstanceId": i} for i in ids])
    sent: list[list[str]] = []

    class Client:
        def create_tags(self, Resources: list[str], Tags: list[dict[str, str]]) -> None:
            assert Tags == [{"Key": "elastic:heartbeat", "Value": "1760000000"}]
            sent.append(Resources)

    provider._client = Client()
    provider.publish_heartbeat(NOW)
    assert [len(batch) for batch in sent] == [1000, 1000, 500]
    assert sorted(i for batch in sent for i in batch) == sorted(ids)
