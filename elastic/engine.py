"""One pass: lock, observe, reconcile, plan, act, record.

Layer: I/O orchestration; the only place that reads the clock. Observation
runs concurrently with a timeout per source, and a failed source is a value
(None), not an exception that ends the pass: the planner then holds back
exactly what depends on it (no retirements without the LRM, no cloud boots
without the EC2 inventory).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from filelock import FileLock, Timeout

from elastic.actuation import ActionResult, Actuator, UserDataRenderer
from elastic.config import Site
from elastic.crashpoints import crash_point
from elastic.ledger import Ledger
from elastic.model import (
    Destroy,
    Host,
    Inventory,
    NodeState,
    Observation,
    Plan,
    ProviderKind,
    QueueSnapshot,
)
from elastic.planner import plan
from elastic.providers.base import Provider
from elastic.reconcile import Reconciliation, reconcile
from elastic.retirement import plan_destroys
from lrm_adapters.base import LRMAdapter

log = logging.getLogger(__name__)
T = TypeVar("T")


class PassLocked(Exception):
    """Another pass holds the site's lock (a slow pass overlapping the next cron run)."""


@dataclass(frozen=True)
class Observed:
    snapshot: QueueSnapshot | None
    inventories: dict[ProviderKind, Inventory | None]
    errors: tuple[str, ...] = ()


@dataclass
class PassResult:
    plan: Plan
    observation: Observation
    results: list[ActionResult] = field(default_factory=list)
    errors: tuple[str, ...] = ()
    #: destroys of nodes this pass drained and the LRM then showed empty
    followup: tuple[Destroy, ...] = ()

    @property
    def degraded(self) -> bool:
        return bool(self.errors) or any(not r.ok for r in self.results)


def _outcome(future: Future[T], deadline: float, limit: float, what: str) -> T | str:
    """The future's value by ``deadline`` (monotonic), or why not, as text."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return f"{what}: no answer within {limit:g} s"
    except Exception as exc:  # a failed observation is a value, not the end of the pass
        return f"{what}: {exc}"


@dataclass
class Engine:
    site: Site
    ledger: Ledger
    lrm: LRMAdapter
    providers: Mapping[ProviderKind, Provider]
    render_user_data: UserDataRenderer
    clock: Callable[[], float] = time.time
    #: runs a probe job on a newly joined node of a VO with ``probe: true``; True if it ran
    probe: Callable[[str], bool] | None = None
    #: unplaceable jobs already warned about by this process (job id, reason)
    _reported: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)

    def observe(self) -> Observed:
        """Read the LRM and every provider, all at once, within one deadline."""
        timeout = self.site.lrm.timeout_s + 5.0
        errors: list[str] = []
        pool = ThreadPoolExecutor(max_workers=1 + len(self.providers))
        try:
            deadline = time.monotonic() + timeout  # all sources are asked at once
            lrm = pool.submit(self.lrm.snapshot)
            asked = {kind: pool.submit(p.inventory) for kind, p in self.providers.items()}
            snapshot = _outcome(lrm, deadline, timeout, f"LRM {self.lrm.name}")
            inventories: dict[ProviderKind, Inventory | None] = {}
            for kind, future in asked.items():
                got = _outcome(future, deadline, timeout, f"provider {kind}")
                inventories[kind] = got if isinstance(got, Inventory) else None
                if isinstance(got, str):
                    errors.append(got)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        if isinstance(snapshot, str):
            errors.append(snapshot)
        for error in errors:
            log.error("observe: %s", error)
        return Observed(
            snapshot if isinstance(snapshot, QueueSnapshot) else None, inventories, tuple(errors)
        )

    def _apply(self, result: Reconciliation, now: float) -> None:
        for orphan in result.orphans:
            if self.ledger.get(orphan.id) is None:
                self.ledger.add(orphan, orphan.reason)
            else:
                self.ledger.set_state(orphan.id, orphan.state, now, orphan.reason)
        for correction in result.corrections:
            self.ledger.update(correction.node_id, now, **correction.fields)
            if correction.message:
                self.ledger.event(now, "reconcile", correction.message, correction.node_id)

    def _probe_joined(self, result: Reconciliation) -> Reconciliation:
        """A node of a probing VO is ready only once a probe job ran on it end to end."""
        probing = {vo.name for vo in self.site.vos if vo.probe}
        if not probing or self.probe is None:
            return result
        held: set[str] = set()
        corrections = []
        for correction in result.corrections:
            worker = next(w for w in result.workers if w.id == correction.node_id)
            joined = correction.fields.get("state") is NodeState.READY
            if joined and worker.vo in probing and not self.probe(worker.id):
                held.add(worker.id)
                fields = {
                    k: v for k, v in correction.fields.items() if k not in {"state", "reason"}
                }
                correction = replace(correction, fields=fields, message="probe job failed")
            corrections.append(correction)
        workers = tuple(
            replace(w, state=NodeState.JOINING, idle_since=None) if w.id in held else w
            for w in result.workers
        )
        return replace(result, corrections=tuple(corrections), workers=workers)

    def prepare(self, now: float) -> tuple[Observation, Observed, Reconciliation]:
        observed = self.observe()
        records = self.ledger.nodes()
        prices = self.site.ec2.prices if self.site.ec2 else {}
        result = self._probe_joined(
            reconcile(records, observed.snapshot, observed.inventories, now, prices)
        )
        hosts: list[Host] = []
        for inventory in observed.inventories.values():
            if inventory is not None:
                hosts.extend(inventory.hosts)
        local = observed.inventories.get(ProviderKind.LIBVIRT, Inventory(ProviderKind.LIBVIRT))
        cloud = observed.inventories.get(ProviderKind.EC2, Inventory(ProviderKind.EC2))
        observation = Observation(
            jobs=observed.snapshot.jobs if observed.snapshot else (),
            nodes=result.workers,
            hosts=tuple(hosts),
            lrm_ok=observed.snapshot is not None,
            local_ok=local is not None,
            cloud_ok=cloud is not None,
            next_serial=self.ledger.peek_serial(),
        )
        return observation, observed, result

    def run_pass(self, *, dry_run: bool = False) -> PassResult:
        """Observe, reconcile, plan and (unless ``dry_run``) act and record."""
        now = self.clock()
        observation, observed, reconciled = self.prepare(now)
        if not dry_run:
            self._apply(reconciled, now)
        decided = plan(observation, self.site, now)
        log_plan(decided, self._reported)
        result = PassResult(decided, observation, errors=observed.errors)
        if dry_run or not decided.actions:
            return result
        crash_point("pass:planned")
        if decided.boots:
            self.ledger.reserve_serials(len(decided.boots))
        result.results = self._actuator(now).run(decided.actions)
        drained = {r.action.node_id for r in result.results if r.ok and r.action.kind == "drain"}
        if drained:
            result.followup, more = self._destroy_drained(drained)
            result.results += more
        failed = sum(1 for r in result.results if not r.ok)
        self.ledger.event(now, "pass", f"{len(result.results)} action(s), {failed} failed", None)
        return result

    def _destroy_drained(self, drained: set[str]) -> tuple[tuple[Destroy, ...], list[ActionResult]]:
        """Destroy, in the same pass, the nodes just drained that the LRM now shows empty.

        A drain only stops new work; the LRM is read again after it, and only a
        node it shows drained and running nothing is destroyed, by the same rule
        as any other pass (``retirement.plan_destroys``), so a job dispatched
        between the observation and the drain keeps its node. Without this a
        retired cloud VM is billed one more pass interval: minutes for a site on
        cron. The providers are read again too: this pass's boots are not in the
        first inventories, and reconciling against those would take them for
        vanished VMs.
        """
        now = self.clock()
        observation, observed, reconciled = self.prepare(now)
        self._apply(reconciled, now)
        if not observation.lrm_ok:
            log.warning("drained nodes are destroyed next pass: %s", "; ".join(observed.errors))
            return (), []
        just_drained = [n for n in observation.nodes if n.id in drained]
        destroys = tuple(plan_destroys(just_drained, self.site, now))
        for action in destroys:
            log.info("plan destroy %s (%s): %s", action.node_id, action.vo, action.reason)
        if not destroys:
            return (), []
        return destroys, self._actuator(now).run(destroys)

    def _actuator(self, now: float) -> Actuator:
        return Actuator(
            self.site, self.ledger, self.lrm, self.providers, self.render_user_data, now
        )


def log_plan(decided: Plan, reported: set[tuple[str, str]] | None = None) -> None:
    """Log the plan. An unplaceable job is a warning the first time ``reported`` (kept
    across a daemon's passes) sees it, and a debug line on later passes."""
    for decision in decided.decisions:
        log.info("decision %s", decision.summary())
    for note in decided.notes:
        log.warning("%s", note)
    for item in decided.unplaceable:
        key = (item.job_id, item.reason)
        level = logging.DEBUG if reported is not None and key in reported else logging.WARNING
        log.log(level, "unplaceable job %s (x%d): %s", item.job_id, item.count, item.reason)
        if reported is not None:
            reported.add(key)
    for action in decided.actions:
        log.info("plan %s %s (%s): %s", action.kind, action.node_id, action.vo, action.reason)


def site_lock(site: Site) -> FileLock:
    path = Path(str(site.state_path()) + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path))


def run_locked(site: Site, engine: Engine, *, dry_run: bool = False) -> PassResult:
    """One pass under the site lock; PassLocked at once if another pass holds it."""
    lock = site_lock(site)
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise PassLocked(
            f"another pass is running for site {site.site.name} ({lock.lock_file})"
        ) from exc
    try:
        return engine.run_pass(dry_run=dry_run)
    finally:
        lock.release()
