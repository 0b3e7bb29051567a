"""Carry out a plan: intent first, then the call, then the outcome.

Layer: I/O (ledger, providers, LRM adapter). Every action is written to the
ledger as an open intent before anything is touched, and closed as done or
failed after, so a crash leaves a trail the next pass can follow. Errors
become data here (``ActionResult``): one failed action never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from elastic.config import Site
from elastic.crashpoints import crash_point
from elastic.ledger import Ledger, NodeRecord
from elastic.model import (
    Action,
    Boot,
    BootRequest,
    Destroy,
    Drain,
    NodeState,
    ProviderKind,
    VMRef,
)
from elastic.providers.base import Provider
from lrm_adapters.base import LRMAdapter

log = logging.getLogger(__name__)

#: Renders (site, vo, hostname, node_id) to cloud-init user-data.
UserDataRenderer = Callable[[Site, str, str, str], str]


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str = ""


@dataclass
class Actuator:
    site: Site
    ledger: Ledger
    lrm: LRMAdapter
    providers: Mapping[ProviderKind, Provider]
    render_user_data: UserDataRenderer
    now: float
    max_parallel: int = 8

    def run(self, actions: tuple[Action, ...]) -> list[ActionResult]:
        """All actions, concurrently; results in the order of the plan."""
        for action in actions:
            if isinstance(action, Boot):
                self._record_boot(action)
        with ThreadPoolExecutor(max_workers=self.max_parallel) as pool:
            return list(pool.map(self._run_one, actions))

    def _run_one(self, action: Action) -> ActionResult:
        intent = self.ledger.open_intent(action.node_id, action.kind, self.now, action.reason)
        crash_point("intent:opened")
        try:
            if isinstance(action, Boot):
                self._boot(action)
            elif isinstance(action, Drain):
                self._drain(action)
            else:
                self._destroy(action)
        except Exception as exc:  # errors become data at the action boundary
            message = f"{type(exc).__name__}: {exc}"
            log.warning("%s %s failed: %s", action.kind, action.node_id, message)
            self.ledger.close_intent(intent, self.now, ok=False, detail=message)
            self._after_failure(action, message)
            return ActionResult(action, ok=False, error=message)
        crash_point("intent:done")
        self.ledger.close_intent(intent, self.now, ok=True)
        log.info("%s %s done: %s", action.kind, action.node_id, action.reason)
        return ActionResult(action, ok=True)

    def _record_boot(self, boot: Boot) -> None:
        self.ledger.add(
            NodeRecord(
                id=boot.node_id,
                vo=boot.vo,
                provider=boot.provider,
                location=boot.location,
                state=NodeState.REQUESTED,
                cores=boot.cores,
                memory_mb=boot.memory_mb,
                created_at=self.now,
                state_since=self.now,
                instance_type=boot.instance_type,
                hourly_cost=boot.hourly_cost,
                boot_deadline=self.now + self.site.policy.boot_timeout_s,
                reason=boot.reason,
            ),
            f"requested: {boot.reason}",
        )

    def _boot_request(self, boot: Boot) -> BootRequest:
        vo = self.site.vo(boot.vo)
        cloud = boot.provider is ProviderKind.EC2
        image = (vo.image.ec2 if cloud else vo.image.libvirt) or ""
        types: tuple[str, ...] = ()
        if cloud and self.site.ec2 is not None:
            allowed = self.site.ec2.instance_types.get(boot.vo, [])
            types = (boot.instance_type, *[t for t in allowed if t != boot.instance_type])
        return BootRequest(
            node_id=boot.node_id,
            hostname=boot.node_id,
            vo=boot.vo,
            site=self.site.site.name,
            provider=boot.provider,
            location=boot.location,
            cores=boot.cores,
            memory_mb=boot.memory_mb,
            disk_gb=vo.flavor.disk_gb,
            image=image,
            user_data=self.render_user_data(self.site, boot.vo, boot.node_id, boot.node_id),
            instance_types=types,
        )

    def _boot(self, boot: Boot) -> None:
        request = self._boot_request(boot)
        vm = self.providers[boot.provider].boot(request)
        crash_point("boot:provider")
        self.ledger.update(
            boot.node_id,
            self.now,
            state=NodeState.BOOTING,
            instance_id=vm.instance_id,
            instance_type=vm.instance_type or boot.instance_type,
        )
        self.ledger.event(
            self.now, "booting", f"VM {vm.instance_id} at {vm.location}", boot.node_id
        )
        crash_point("boot:booting")
        self.lrm.register_node(boot.node_id, boot.vo, cloud=boot.provider is ProviderKind.EC2)
        crash_point("boot:registered")
        self.ledger.set_state(boot.node_id, NodeState.JOINING, self.now, "registered with the LRM")

    def _drain(self, drain: Drain) -> None:
        self.lrm.drain_node(drain.node_id, drain.reason)
        crash_point("drain:lrm")
        self.ledger.set_state(drain.node_id, NodeState.DRAINING, self.now, drain.reason)

    def _destroy(self, destroy: Destroy) -> None:
        record = self.ledger.get(destroy.node_id)
        if record is None:
            raise LookupError(f"no ledger record for {destroy.node_id}")
        self.ledger.set_state(destroy.node_id, NodeState.RETIRING, self.now, destroy.reason)
        crash_point("destroy:retiring")
        self.lrm.remove_node(destroy.node_id)
        crash_point("destroy:lrm")
        vm = VMRef(record.id, record.provider, record.location, record.instance_id, record.vo)
        self.providers[record.provider].destroy(vm)
        crash_point("destroy:provider")
        self.ledger.set_state(destroy.node_id, NodeState.GONE, self.now, destroy.reason)

    def _after_failure(self, action: Action, message: str) -> None:
        """A failed boot leaves a FAILED node for the planner to clean up."""
        if isinstance(action, Boot):
            self.ledger.set_state(action.node_id, NodeState.FAILED, self.now, message)
        else:
            self.ledger.event(self.now, f"{action.kind}-failed", message, action.node_id)
