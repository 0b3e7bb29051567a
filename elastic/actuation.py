"""Carry out a plan: intent first, then the call, then the outcome.

Layer: I/O (ledger, providers, LRM adapter). Every action is written to the
ledger as an open intent before anything is touched, and closed as done or
failed after, so a crash leaves a trail the next pass can follow. Errors
become data here (``ActionResult``): one failed action never stops the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from elastic.config import Site
from elastic.crashpoints import crash_point
from elastic.deadline import TimedOut, run_all
from elastic.ledger import Ledger
from elastic.logging_setup import decision_fields
from elastic.model import (
    Action,
    Boot,
    BootRequest,
    Destroy,
    Drain,
    NodeRecord,
    NodeSpec,
    NodeState,
    PowerUp,
    Probe,
    ProviderKind,
    VMRef,
    spec_fields,
)
from elastic.providers.base import Provider
from elastic.recovery import RecoveryStep
from lrm_adapters.base import LRMAdapter, PowersUp

log = logging.getLogger(__name__)
#: what a pass decided and did, one INFO line per VO decision, planned action and action
#: done: the lines a plan table repeats, so a command that prints the table turns it down
decisions = logging.getLogger("elastic.decisions")


class UserDataRenderer(Protocol):
    """Renders a new node's cloud-init user-data; ``cloud``: an EC2 worker, which also
    gets the dead-man switch (docs/deadman.md)."""

    def __call__(
        self, site: Site, vo: str, hostname: str, node_id: str, *, cloud: bool = False
    ) -> str: ...


@dataclass(frozen=True)
class ActionResult:
    action: Action
    ok: bool
    error: str = ""
    #: no answer by the act deadline: the call was left running, its intent open
    abandoned: bool = False


@dataclass(frozen=True)
class RecoveryResult:
    step: RecoveryStep
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
    #: seconds the actions may take in all; None: policy.act_deadline_s
    deadline_s: float | None = None
    #: runs a VO's probe job on a joined node (``probe: true``); True if it ran end to end
    probe: Callable[[str], bool] | None = None

    def _limit(self) -> float:
        return self.deadline_s if self.deadline_s is not None else self.site.policy.act_deadline_s

    def run(self, actions: tuple[Action, ...]) -> list[ActionResult]:
        """All actions, concurrently, within the act deadline; results in plan order.

        An action with no answer by then is abandoned in its daemon thread: its
        intent stays open and its node as it was, for the next pass to finish.
        """
        for action in actions:
            if isinstance(action, Boot):
                self._record_boot(action)
        calls = {n: (lambda a=action: self._run_one(a)) for n, action in enumerate(actions)}
        outcomes = run_all(calls, self._limit(), self.max_parallel)
        results = []
        for n, action in enumerate(actions):
            outcome = outcomes[n]
            if outcome.value is not None:
                results.append(outcome.value)
                continue
            message = str(outcome.error)
            log.error("%s %s: %s", action.kind, action.node_id, message)
            abandoned = isinstance(outcome.error, TimedOut)
            results.append(ActionResult(action, ok=False, error=message, abandoned=abandoned))
        return results

    def recover(self, steps: list[RecoveryStep]) -> list[RecoveryResult]:
        """Finish or roll back what killed passes left, within the act deadline."""
        calls = {n: (lambda s=step: self._recover_one(s)) for n, step in enumerate(steps)}
        outcomes = run_all(calls, self._limit(), self.max_parallel)
        results = []
        for n, step in enumerate(steps):
            outcome = outcomes[n]
            if outcome.value is None:
                log.error("recover %s (%s): %s", step.node_id, step.step, outcome.error)
                results.append(RecoveryResult(step, ok=False, error=str(outcome.error)))
            else:
                results.append(outcome.value)
        return results

    def _recover_one(self, step: RecoveryStep) -> RecoveryResult:
        try:
            if step.step == "resume-boot":
                self._resume_boot(step)
            elif step.step == "fail-boot":
                self.ledger.set_state(step.node_id, NodeState.FAILED, self.now, step.reason)
            elif step.step == "redo-drain":
                record = self.ledger.get(step.node_id)
                reason = record.reason if record is not None else step.reason
                self._drain(Drain(step.node_id, record.vo if record else "", reason))
            elif step.step == "finish-destroy":
                self._destroy(Destroy(step.node_id, "", step.reason))
        except Exception as exc:  # the intent stays open: the next pass tries again
            message = f"{type(exc).__name__}: {exc}"
            log.warning("recover %s (%s) failed: %s", step.node_id, step.step, message)
            self.ledger.event(self.now, "recover-failed", message, step.node_id)
            return RecoveryResult(step, ok=False, error=message)
        for intent in step.intents:
            self.ledger.close_intent(intent, self.now, ok=True, detail=f"recovered: {step.reason}")
        self.ledger.event(self.now, "recovered", f"{step.step}: {step.reason}", step.node_id)
        log.warning("recovered %s: %s (%s)", step.node_id, step.reason, step.step)
        return RecoveryResult(step, ok=True)

    def _resume_boot(self, step: RecoveryStep) -> None:
        """A VM that a killed pass booted: record it and register it, as `_boot` would."""
        record = self.ledger.get(step.node_id)
        if record is None or step.vm is None:
            raise LookupError(f"no ledger record or VM for {step.node_id}")
        self._join(record, step.vm)

    def _run_one(self, action: Action) -> ActionResult:
        intent = self.ledger.open_intent(action.node_id, action.kind, self.now, action.reason)
        crash_point("intent:opened")
        try:
            if isinstance(action, Boot):
                self._boot(action)
            elif isinstance(action, Drain):
                self._drain(action)
            elif isinstance(action, Probe):
                self._probe(action)
            elif isinstance(action, PowerUp):
                self._power_up(action)
            else:
                self._destroy(action)
        except Exception as exc:  # errors become data at the action boundary
            message = f"{type(exc).__name__}: {exc}"
            log.warning(
                "%s %s failed: %s",
                action.kind,
                action.node_id,
                message,
                extra=decision_fields(action.vo, action.node_id, action.kind, message),
            )
            self.ledger.close_intent(intent, self.now, ok=False, detail=message)
            self._after_failure(action, message)
            return ActionResult(action, ok=False, error=message)
        crash_point("intent:done")
        self.ledger.close_intent(intent, self.now, ok=True)
        decisions.info(
            "%s %s done: %s",
            action.kind,
            action.node_id,
            action.reason,
            extra=decision_fields(action.vo, action.node_id, action.kind, action.reason),
        )
        return ActionResult(action, ok=True)

    def _record_boot(self, boot: Boot) -> None:
        self.ledger.add(
            NodeRecord(
                **spec_fields(boot),
                state=NodeState.REQUESTED,
                created_at=self.now,
                state_since=self.now,
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
            **spec_fields(boot),
            hostname=boot.node_id,
            site=self.site.site.name,
            disk_gb=vo.flavor.disk_gb,
            image=image,
            user_data=self.render_user_data(
                self.site, boot.vo, boot.node_id, boot.node_id, cloud=cloud
            ),
            instance_types=types,
        )

    def _boot(self, boot: Boot) -> None:
        request = self._boot_request(boot)
        vm = self.providers[boot.provider].boot(request)
        crash_point("boot:provider")
        self._join(boot, vm)

    def _join(self, node: NodeSpec, vm: VMRef) -> None:
        """A node whose VM exists: BOOTING, registered with the LRM, JOINING. Also the
        second half of a boot that a killed pass left (recovery's resume-boot, from the
        ledger's row). The LRM is told the node's own size, which for a cloud worker
        sized to its jobs is its instance type's, not the VO's flavor."""
        node_id, vo, provider = node.id, node.vo, node.provider
        self.ledger.update(
            node_id,
            self.now,
            state=NodeState.BOOTING,
            instance_id=vm.instance_id,
            instance_type=vm.instance_type or node.instance_type,
        )
        self.ledger.event(self.now, "booting", f"VM {vm.instance_id} at {vm.location}", node_id)
        crash_point("boot:booting")
        self.lrm.register_node(
            node_id,
            vo,
            cloud=provider is ProviderKind.EC2,
            cores=node.cores,
            memory_mb=node.memory_mb,
        )
        crash_point("boot:registered")
        self.ledger.set_state(node_id, NodeState.JOINING, self.now, "registered with the LRM")

    def _drain(self, drain: Drain) -> None:
        self.lrm.drain_node(drain.node_id, drain.reason)
        crash_point("drain:lrm")
        self.ledger.set_state(drain.node_id, NodeState.DRAINING, self.now, drain.reason)

    def _probe(self, probe: Probe) -> None:
        """The node's probe job: READY once it ran; else it stays JOINING (the next pass
        probes again; past its boot deadline, once empty, it is destroyed)."""
        if self.probe is None:
            raise RuntimeError("no probe job runner configured (lrm.options DRMAA_*)")
        if not self.probe(probe.node_id):
            raise RuntimeError(f"probe job on {probe.node_id} did not run; it stays joining")
        self.ledger.set_state(probe.node_id, NodeState.READY, self.now, "probe job ran")

    def _power_up(self, power_up: PowerUp) -> None:
        """The LRM powers the node up; its ResumeProgram (elastic slurm-resume) boots it."""
        if not isinstance(self.lrm, PowersUp):
            raise RuntimeError(f"LRM {self.lrm.name} cannot power nodes up")
        self.lrm.power_up(power_up.node_id)
        self.ledger.event(self.now, "power-up", power_up.reason, power_up.node_id)

    def _destroy(self, destroy: Destroy) -> None:
        record = self.ledger.get(destroy.node_id)
        if record is None:
            raise LookupError(f"no ledger record for {destroy.node_id}")
        if record.state is NodeState.GONE:
            return
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
