"""Amazon EC2 through boto3: where workers go when local hypervisors are full.

Layer: provider I/O. An instance is ours because of its tags
(``elastic:site``, ``elastic:vo``, ``elastic:node``), and every listing filters
on ``elastic:site`` server-side, never scanning the account. A boot first looks
for an instance already tagged with the node id, then launches with a
``ClientToken`` derived from it, so a retried or crashed boot never makes a
second VM (the tag lookup also covers endpoints, like moto, that ignore the
token). Throttling (``RequestLimitExceeded``) is botocore's adaptive retry
mode's business, configured once here; capacity errors move on to the VO's
next instance type, then the next subnet. Workers launch with IMDS tags enabled and
shutdown behaviour "terminate", and ``publish_heartbeat`` tags them each pass: their
dead-man switch powers them off, for good, when the controller is gone (docs/deadman.md).
"""

from __future__ import annotations

import logging
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from elastic.config import Ec2Config, Site
from elastic.model import BootRequest, Inventory, ProviderKind, VMRef
from elastic.providers.base import CapacityError, ProviderError

log = logging.getLogger(__name__)


def client_config(ec2: Ec2Config) -> Config:
    """Timeouts and retries from site.yaml: a frozen endpoint costs a pass at most
    about ``max_attempts × (connect_timeout_s + read_timeout_s)``, not botocore's
    default of minutes."""
    return Config(
        connect_timeout=ec2.connect_timeout_s,
        read_timeout=ec2.read_timeout_s,
        retries={"mode": "adaptive", "max_attempts": ec2.max_attempts},
    )


TRY_NEXT = frozenset({"InsufficientInstanceCapacity", "Unsupported", "InsufficientCapacity"})
LIMITS = frozenset({"InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"})
LIVE = ["pending", "running", "stopping", "stopped"]
HEARTBEAT_TAG = "elastic:heartbeat"
CREATE_TAGS_MAX = 1000
#: ended by EC2 or by someone else: listed so that the node is failed at once, with EC2's reason
ENDED = ["shutting-down", "terminated"]


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


class Ec2Provider:
    """Provider over one EC2 region (or an EC2-compatible endpoint)."""

    kind = ProviderKind.EC2

    def __init__(self, site: Site, *, session: boto3.Session | None = None) -> None:
        if site.ec2 is None:
            raise ProviderError("site.yaml has no ec2 section")
        self.site = site
        self.config: Ec2Config = site.ec2
        self._session = session
        self._client: Any = None

    @property
    def client(self) -> Any:
        """The boto3 EC2 client, made on first use (credentials: boto3's own chain)."""
        if self._client is None:
            endpoint = self.config.endpoint_url
            if endpoint == "embedded":
                from elastic.providers.embedded_moto import start_embedded_ec2

                endpoint = start_embedded_ec2()
            session = self._session or boto3.Session()
            self._client = session.client(
                "ec2",
                region_name=self.config.region,
                endpoint_url=endpoint,
                config=client_config(self.config),
            )
        return self._client

    def _site_filter(self) -> list[dict[str, Any]]:
        return [{"Name": "tag:elastic:site", "Values": [self.site.site.name]}]

    def _instances(self, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("describe_instances")
        try:
            for page in paginator.paginate(Filters=filters):
                for reservation in page.get("Reservations", []):
                    found.extend(reservation.get("Instances", []))
        except (ClientError, BotoCoreError) as exc:
            raise ProviderError(f"describe_instances: {exc}") from exc
        return found

    def _ref(self, instance: dict[str, Any]) -> VMRef:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        launched = instance.get("LaunchTime")
        state = instance.get("State", {}).get("Name")
        return VMRef(
            node_id=tags.get("elastic:node", instance["InstanceId"]),
            provider=ProviderKind.EC2,
            location=self.config.region,
            instance_id=instance["InstanceId"],
            vo=tags.get("elastic:vo", ""),
            instance_type=instance.get("InstanceType", ""),
            running=state in {"pending", "running"},
            launched_at=launched.timestamp() if launched is not None else None,
            terminated=state in ENDED,
            state_reason=str(instance.get("StateReason", {}).get("Message", "")),
        )

    def inventory(self) -> Inventory:
        filters = [*self._site_filter(), {"Name": "instance-state-name", "Values": LIVE + ENDED}]
        return Inventory(
            ProviderKind.EC2, vms=tuple(self._ref(i) for i in self._instances(filters))
        )

    def find(self, node_id: str) -> VMRef | None:
        filters = [
            *self._site_filter(),
            {"Name": "tag:elastic:node", "Values": [node_id]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
        found = self._instances(filters)
        return self._ref(found[0]) if found else None

    def _launch_args(
        self, request: BootRequest, instance_type: str, subnet: str | None
    ) -> dict[str, Any]:
        tags = [
            {"Key": "Name", "Value": request.hostname},
            {"Key": "elastic:site", "Value": request.site},
            {"Key": "elastic:vo", "Value": request.vo},
            {"Key": "elastic:node", "Value": request.node_id},
        ]
        args: dict[str, Any] = {
            "ImageId": request.image,
            "InstanceType": instance_type,
            "MinCount": 1,
            "MaxCount": 1,
            "UserData": request.user_data,
            "ClientToken": f"elastic-{request.node_id}"[:64],
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": tags},
                {"ResourceType": "volume", "Tags": tags},
            ],
            # IMDSv2 only; tags readable in IMDS: the dead-man switch reads its heartbeat there
            "MetadataOptions": {
                "HttpTokens": "required",
                "HttpEndpoint": "enabled",
                "InstanceMetadataTags": "enabled",
            },
            # a worker that powers itself off (dead-man switch) is terminated, not kept
            "InstanceInitiatedShutdownBehavior": "terminate",
        }
        if subnet:
            args["SubnetId"] = subnet
        if self.config.security_group_ids:
            args["SecurityGroupIds"] = list(self.config.security_group_ids)
        if self.config.key_name:
            args["KeyName"] = self.config.key_name
        if self.config.spot:
            args["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time"},
            }
        return args

    def boot(self, request: BootRequest) -> VMRef:
        existing = self.find(request.node_id)
        if existing is not None:
            log.info("%s already has instance %s", request.node_id, existing.instance_id)
            return existing
        if not request.image:
            raise ProviderError(f"VO {request.vo} has no ec2 image (AMI) in site.yaml")
        types = request.instance_types or tuple(self.config.instance_types.get(request.vo, []))
        subnets: list[str | None] = list(self.config.subnets) or [None]
        tried: list[str] = []
        for subnet in subnets:
            for instance_type in types:
                try:
                    answer = self.client.run_instances(
                        **self._launch_args(request, instance_type, subnet)
                    )
                except ClientError as exc:
                    code = error_code(exc)
                    if code in TRY_NEXT:
                        tried.append(f"{instance_type}@{subnet or 'default'}: {code}")
                        continue
                    if code in LIMITS:
                        raise CapacityError(f"EC2 {code}: {exc}") from exc
                    raise ProviderError(f"EC2 run_instances {code}: {exc}") from exc
                except BotoCoreError as exc:
                    raise ProviderError(f"EC2 run_instances: {exc}") from exc
                vm = self._ref(answer["Instances"][0])
                log.info("launched %s as %s (%s)", request.node_id, vm.instance_id, instance_type)
                return vm
        raise CapacityError("no EC2 capacity for " + request.node_id + ": " + "; ".join(tried))

    def publish_heartbeat(self, now: float) -> None:
        """Tag every live instance of the site ``elastic:heartbeat=<epoch s>``.

        The controller's sign of life for the workers' dead-man switch, which reads the tag
        through IMDS without credentials (docs/deadman.md). One CreateTags call for all of
        them (EC2 takes up to 1000 ids a call; more are sent in batches of 1000), none when
        there are none. Failures raise ProviderError.
        """
        filters = [*self._site_filter(), {"Name": "instance-state-name", "Values": LIVE}]
        ids = sorted({i["InstanceId"] for i in self._instances(filters)})
        tag = [{"Key": HEARTBEAT_TAG, "Value": str(int(now))}]
        for start in range(0, len(ids), CREATE_TAGS_MAX):
            batch = ids[start : start + CREATE_TAGS_MAX]
            try:
                self.client.create_tags(Resources=batch, Tags=tag)
            except ClientError as exc:
                raise ProviderError(f"EC2 create_tags heartbeat: {error_code(exc)}") from exc
            except BotoCoreError as exc:
                raise ProviderError(f"EC2 create_tags heartbeat: {exc}") from exc
        log.debug("heartbeat %d on %d instances", int(now), len(ids))

    def destroy(self, vm: VMRef) -> None:
        instance_id = vm.instance_id
        if not instance_id.startswith("i-"):
            found = self.find(vm.node_id)  # a boot that crashed before recording its id
            if found is None:
                return
            instance_id = found.instance_id
        try:
            self.client.terminate_instances(InstanceIds=[instance_id])
        except ClientError as exc:
            if error_code(exc) in {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}:
                return
            raise ProviderError(f"EC2 terminate {instance_id}: {error_code(exc)}") from exc
        except BotoCoreError as exc:
            raise ProviderError(f"EC2 terminate {instance_id}: {exc}") from exc
        log.info("terminated %s (%s)", instance_id, vm.node_id)
