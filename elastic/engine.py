"""One pass: lock, recover, observe, reconcile, plan, act, record.

Layer: I/O orchestration; the only place that reads the clock. Observation
runs concurrently with one deadline for all sources, and a failed source is a
value (None), not an exception that ends the pass: the planner then holds back
exactly what depends on it (no retirements without a trusted LRM reading, no
cloud boots without the EC2 inventory). Every call runs in a daemon thread
under a deadline (``elastic.deadline``), so a pass is bounded in time:

    observe ≤ lrm.timeout_s + 5 s, then recovery + act + the same-pass follow-up
    (a second observe, bounded alike, and its destroys) share ``policy.act_deadline_s``:
    a pass ends within 2 × (lrm.timeout_s + 5) + act_deadline_s seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from filelock import FileLock, Timeout

from elastic.actuation import (
    ActionResult,
    Actuator,
    RecoveryResult,
    UserDataRenderer,
    decisions,
)
from elastic.config import Site
from elastic.crashpoints import crash_point
from elastic.deadline import TimedOut, abandoned_calls, run_all
from elastic.ledger import Ledger
from elastic.logging_setup import decision_fields
from elastic.lrm_reservations import sync
from elastic.model import (
    OPEN_RESERVATION_STATES,
    Boot,
    Destroy,
    Drain,
    Host,
    Inventory,
    NodeRecord,
    NodeState,
    Observation,
    Plan,
    Probe,
    ProviderKind,
    QueueSnapshot,
    WorkerNode,
)
from elastic.planning import plan
from elastic.planning.backoff import BackoffView, BootOutcome, describe, fold, target_of
from elastic.planning.reservations import describe_reservation, next_state, to_join
from elastic.planning.scale_down import plan_destroys
from elastic.plausibility import check_reading, running_jobs
from elastic.providers.base import Provider
from elastic.reconcile import UP_STATES, Reconciliation, reconcile, vms_by_node
from elastic.recovery import plan_recovery
from elastic.vomatch import label_snapshot
from lrm_adapters.base import JoinsReservations, LRMAdapter, LRMError

log = logging.getLogger(__name__)

#: ledger marks (site-wide figures that outlive the process)
MARK_RUNNING = "lrm_running_jobs"  # running jobs at the last plausible reading
MARK_IMPLAUSIBLE = "lrm_implausible_since"  # first pass of an implausible reading
#: the latest pass (not a dry run) that ran, for ``elastic status``: when it started, whether it
#: was degraded (1) or not (0), how many actions it ran and how many of them failed
MARK_LATEST_AT = "last_pass_at"
MARK_LATEST_DEGRADED = "last_pass_degraded"
MARK_LATEST_ACTIONS = "last_pass_actions"
MARK_LATEST_FAILED = "last_pass_failed"


class PassLocked(Exception):
    """Another pass holds the site's lock (a slow pass overlapping the next cron run)."""


@dataclass(frozen=True)
class Observed:
    snapshot: QueueSnapshot | None
    inventories: dict[ProviderKind, Inventory | None]
    errors: tuple[str, ...] = ()
    #: the sources that could not be read: "lrm", a provider kind, "libvirt/<host>"
    failed: tuple[str, ...] = ()


@dataclass
class PassResult:
    plan: Plan
    observation: Observation
    results: list[ActionResult] = field(default_factory=list)
    errors: tuple[str, ...] = ()
    #: destroys of nodes this pass drained and the LRM then showed empty
    followup: tuple[Destroy, ...] = ()
    recovered: list[RecoveryResult] = field(default_factory=list)
    #: the sources the pass could not read (``Observed.failed``), for the metrics
    failed_sources: tuple[str, ...] = ()
    #: tagged VMs with no live ledger row that this pass adopted as orphans
    adopted: tuple[NodeRecord, ...] = ()

    @property
    def degraded(self) -> bool:
        return (
            bool(self.errors)
            or any(not r.ok for r in self.results)
            or any(not r.ok for r in self.recovered)
        )

    @property
    def abandoned(self) -> int:
        return sum(1 for r in self.results if r.abandoned)


@dataclass
class Engine:
    site: Site
    ledger: Ledger
    lrm: LRMAdapter
    providers: Mapping[ProviderKind, Provider]
    render_user_data: UserDataRenderer
    clock: Callable[[], float] = time.time
    #: runs a probe job on a newly joined node of a VO with ``probe: true``; True if it ran.
    #: Only the act phase calls it (a Probe action): observing never submits anything
    probe: Callable[[str], bool] | None = None
    #: unplaceable jobs already warned about by this process (job id, reason)
    _reported: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False)
    #: nodes whose call this process abandoned at a deadline and that may still finish
    _in_flight: set[str] = field(default_factory=set, init=False, repr=False)
    #: the last good LRM reading and when it was made (policy.lrm_grace_s)
    _last_good: tuple[float, QueueSnapshot] | None = field(default=None, init=False, repr=False)

    def observe(self) -> Observed:
        """Read the LRM and every provider, all at once, within one deadline."""
        timeout = self.site.lrm.timeout_s + 5.0
        calls: dict[str, Callable[[], object]] = {"lrm": self.lrm.snapshot}
        for kind, provider in self.providers.items():
            calls[kind.value] = provider.inventory
        outcomes = run_all(calls, timeout, len(calls))
        errors: list[str] = []
        failed: list[str] = []
        inventories: dict[ProviderKind, Inventory | None] = {}
        for kind in self.providers:
            got = outcomes[kind.value]
            inventories[kind] = got.value if isinstance(got.value, Inventory) else None
            if not got.ok:
                errors.append(f"provider {kind}: {_why(got.error, timeout)}")
                failed.append(kind.value)
        lrm = outcomes["lrm"]
        snapshot = lrm.value if isinstance(lrm.value, QueueSnapshot) else None
        if snapshot is not None:  # a job's VO is decided here, once, for every reader
            snapshot = label_snapshot(snapshot, self.site.vos)
        if not lrm.ok:
            errors.append(f"LRM {self.lrm.name}: {_why(lrm.error, timeout)}")
            failed.append("lrm")
        for kind, inventory in inventories.items():
            for host in inventory.hosts if inventory is not None else ():
                if not host.reachable:
                    errors.append(f"libvirt host {host.name} unreachable: {host.error}")
                    failed.append(f"{kind.value}/{host.name}")
        for error in errors:
            log.error("observe: %s", error)
        return Observed(snapshot, inventories, tuple(errors), tuple(failed))

    def _apply(self, result: Reconciliation, now: float) -> None:
        for orphan in result.orphans:
            log.warning("orphan %s (%s): %s", orphan.id, orphan.provider, orphan.reason)
            if self.ledger.get(orphan.id) is None:
                self.ledger.add(orphan, orphan.reason)
            else:
                self.ledger.update(
                    orphan.id, now, state=orphan.state, reason=orphan.reason, cores=0
                )
                self.ledger.event(now, orphan.state.value, orphan.reason, orphan.id)
        for correction in result.corrections:
            self.ledger.update(correction.node_id, now, **correction.fields)
            if correction.message:
                self.ledger.event(now, "reconcile", correction.message, correction.node_id)
                failed = correction.fields.get("state") is NodeState.FAILED
                level = logging.WARNING if failed else logging.INFO
                log.log(level, "reconcile %s: %s", correction.node_id, correction.message)

    def _probing(self) -> set[str]:
        """The VOs whose joined nodes wait for a probe job (none without a probe runner)."""
        return {vo.name for vo in self.site.vos if vo.probe} if self.probe is not None else set()

    def _hold_for_probe(self, result: Reconciliation) -> Reconciliation:
        """A joined node of a probing VO stays JOINING: it is ready only once a probe job
        ran on it, a Probe action of the act phase (``with_probes``), never a call made
        while observing, so ``plan`` and ``status`` submit nothing."""
        probing = self._probing()
        if not probing:
            return result
        vo_of = {w.id: w.vo for w in result.workers}
        held: set[str] = set()
        corrections = []
        for correction in result.corrections:
            joined = correction.fields.get("state") is NodeState.READY
            if joined and vo_of.get(correction.node_id) in probing:
                held.add(correction.node_id)
                fields = {
                    k: v for k, v in correction.fields.items() if k not in {"state", "reason"}
                }
                correction = replace(correction, fields=fields, message="")
            corrections.append(correction)
        workers = tuple(
            replace(w, state=NodeState.JOINING, idle_since=None) if w.id in held else w
            for w in result.workers
        )
        return replace(result, corrections=tuple(corrections), workers=workers)

    def prepare(
        self, now: float, observed: Observed | None = None, *, record: bool = False
    ) -> tuple[Observation, Observed, Reconciliation]:
        """The observation the planner reads: sources read, reconciled with the ledger,
        the reading's plausibility judged and the boot backoffs attached. With
        ``record`` the site-wide marks are kept (a real pass; never for plan/status)."""
        observed = observed or self.observe()
        records = self.ledger.nodes()
        snapshot, scale_down_ok, notes = self._judge_reading(
            observed.snapshot, records, now, record
        )
        prices = self.site.ec2.prices if self.site.ec2 else {}
        result = self._hold_for_probe(
            reconcile(
                records,
                snapshot,
                observed.inventories,
                now,
                prices,
                policy=self.site.policy,
                trusted=scale_down_ok,
            )
        )
        hosts: list[Host] = []
        for inventory in observed.inventories.values():
            if inventory is not None:
                hosts.extend(inventory.hosts)
        local = observed.inventories.get(ProviderKind.LIBVIRT, Inventory(ProviderKind.LIBVIRT))
        cloud = observed.inventories.get(ProviderKind.EC2, Inventory(ProviderKind.EC2))
        backoffs = BackoffView.of(self.ledger.backoffs(), now, self.site.policy)
        notes += [describe(b, now, self.site.policy) for b in backoffs.active]
        fresh = observed.snapshot.reservations if observed.snapshot is not None else None
        synced = sync(self.site.lrm.kind, fresh, self.ledger.reservations(), self.site.vos, now)
        if record:
            for changed, message in synced.writes:
                log.info("reservation %s: %s", changed.id, message)
                self.ledger.put_reservation(changed, now, message)
        if synced.unmatched:  # a maintenance reservation, say: not elastic's to prepare
            log.info(
                "LRM reservations no VO's match rule fits (users, accounts, groups), left "
                "to the LRM: %s",
                ", ".join(synced.unmatched),
            )
        observation = Observation(
            jobs=snapshot.jobs if snapshot else (),
            nodes=result.workers,
            hosts=tuple(hosts),
            lrm_ok=snapshot is not None,
            local_ok=local is not None,
            cloud_ok=cloud is not None,
            next_serial=self.ledger.peek_serial(),
            scale_down_ok=scale_down_ok,
            backoffs=backoffs.active,
            reservations=tuple(
                r for r in synced.reservations if r.state in OPEN_RESERVATION_STATES
            ),
            boot_p95_s=self.ledger.boot_p95_s(),
        )
        for note in notes:
            log.warning("%s", note)
        return observation, replace(observed, errors=observed.errors + tuple(notes)), result

    def _judge_reading(
        self, snapshot: QueueSnapshot | None, records: list[NodeRecord], now: float, record: bool
    ) -> tuple[QueueSnapshot | None, bool, list[str]]:
        """The reading to plan on, whether scale-down may follow it, and why not."""
        policy = self.site.policy
        if snapshot is None:
            if self._last_good is not None and now - self._last_good[0] <= policy.lrm_grace_s:
                age = now - self._last_good[0]
                note = (
                    f"LRM unread: boots follow its last good reading ({age:.0f} s old, "
                    f"lrm_grace_s={policy.lrm_grace_s}); no scale-down"
                )
                return self._last_good[1], False, [note]
            return None, True, []
        check = check_reading(snapshot, records, self.ledger.mark(MARK_RUNNING), policy)
        if not check.implausible:
            if record:
                self.ledger.set_mark(MARK_RUNNING, float(running_jobs(snapshot)))
                self.ledger.set_mark(MARK_IMPLAUSIBLE, None)
            self._last_good = (now, snapshot)
            return snapshot, True, []
        since = self.ledger.mark(MARK_IMPLAUSIBLE)
        if since is None:
            since = now
            if record:
                self.ledger.set_mark(MARK_IMPLAUSIBLE, now)
        lasted = now - since
        if lasted < policy.lrm_vanish_grace_s:
            note = (
                f"implausible LRM reading: {check.message()}; no scale-down for "
                f"{policy.lrm_vanish_grace_s - lasted:.0f} s more (lrm_vanish_grace_s="
                f"{policy.lrm_vanish_grace_s}) unless the nodes come back"
            )
            return snapshot, False, [note]
        note = (
            f"implausible LRM reading for {lasted:.0f} s: {check.message()}; its missing "
            f"nodes are now dark nodes (dark_timeout_s={policy.dark_timeout_s})"
        )
        return snapshot, True, [note]

    def _recover(self, observed: Observed, now: float) -> list[RecoveryResult]:
        """Finish or roll back what earlier, killed passes left half done."""
        vms = vms_by_node(observed.inventories)
        read = {kind for kind, inventory in observed.inventories.items() if inventory is not None}
        self._in_flight = {n for n in self._in_flight if abandoned_calls()}
        steps = plan_recovery(
            self.ledger.open_intents(), self.ledger.nodes(), vms, read, self._in_flight
        )
        results = self.actuator(now).recover(steps) if steps else []
        crash_point("pass:recovered")
        return results

    def run_pass(self, *, dry_run: bool = False) -> PassResult:
        """Recover, observe, reconcile, plan and (unless ``dry_run``) act and record."""
        now = self.clock()
        act_by = time.monotonic() + self.site.policy.act_deadline_s
        observed = self.observe()
        recovered = [] if dry_run else self._recover(observed, now)
        destroyed = {r.step.node_id for r in recovered if r.ok and r.step.step == "finish-destroy"}
        if destroyed:  # read before recovery destroyed them: they must not come back as orphans
            observed = _without_vms(observed, destroyed)
        observation, observed, reconciled = self.prepare(now, observed, record=not dry_run)
        if not dry_run:
            self._apply(reconciled, now)
            self._fold_joins(reconciled, now)
        decided = plan(observation, self.site, now)
        decided = with_probes(decided, observation, self._probing())
        decided = self._without_in_flight(decided)
        log_plan(decided, self._reported)
        result = PassResult(
            decided,
            observation,
            errors=observed.errors,
            recovered=recovered,
            failed_sources=observed.failed,
            adopted=() if dry_run else reconciled.orphans,
        )
        if dry_run:
            return result
        if decided.actions:
            crash_point("pass:planned")
            if decided.boots:
                self.ledger.reserve_serials(len(decided.boots))
            result.results = self.actuator(now, act_by).run(decided.actions)
            self._fold_results(result.results, now)
            self._account_reservations(result.results, now)
            drained = {
                r.action.node_id for r in result.results if r.ok and r.action.kind == "drain"
            }
            if drained:
                result.followup, more = self._destroy_drained(drained, act_by)
                result.results += more
            failed = sum(1 for r in result.results if not r.ok)
            self.ledger.event(
                now, "pass", f"{len(result.results)} action(s), {failed} failed", None
            )
        self._in_flight |= {r.action.node_id for r in result.results if r.abandoned}
        self._advance_reservations(observation, decided, now)
        result.errors += self._join_lrm_reservations(observation, now)
        result.errors += self._publish_heartbeat(observation, now, act_by)
        self._record_pass(result, now)
        return result

    def _record_pass(self, result: PassResult, now: float) -> None:
        """The pass's time and result as marks (one row each, overwritten), not an event
        per pass: a pass a minute would be half a million events a year."""
        failed = sum(1 for r in result.results if not r.ok)
        self.ledger.set_marks(
            {
                MARK_LATEST_AT: now,
                MARK_LATEST_DEGRADED: float(result.degraded),
                MARK_LATEST_ACTIONS: float(len(result.results)),
                MARK_LATEST_FAILED: float(failed),
            }
        )

    def _advance_reservations(self, observation: Observation, decided: Plan, now: float) -> None:
        """Move each open reservation along its life and record each step as an event;
        a reservation with nodes at risk says so once per pass, as a warning."""
        at_risk = {d.vo: d.at_risk for d in decided.decisions if d.at_risk}
        for reservation in observation.reservations:
            moved = next_state(reservation, self.site, observation, now)
            if moved != reservation:
                message = describe_reservation(moved, now)
                log.info("reservation %s: %s", moved.id, message)
                self.ledger.put_reservation(moved, now, message)
            for short in at_risk.get(reservation.vo, ()):
                if short.reason.figures.get("reservation") in {reservation.id, reservation.name}:
                    log.warning("%s of VO %s: %s", reservation.id, reservation.vo, short.words())
                    self.ledger.event(now, "reservation-at-risk", short.words(), reservation.id)

    def _account_reservations(self, results: Sequence[ActionResult], now: float) -> None:
        """Each node booted for a reservation, and each queue worker drained for one, is an
        event of the reservation: ``elastic reservations`` counts the drains and prices
        the boots from them."""
        for done in results:
            action = done.action
            if not done.ok or not isinstance(action, Boot | Drain) or not action.reservation:
                continue
            if isinstance(action, Boot):
                kind, words = "reservation-boot", f"{action.node_id} booted for it"
            else:
                kind, words = "reservation-drain", f"{action.node_id} of {action.vo} drained"
            self.ledger.event(now, kind, f"{words}: {action.reason}", action.reservation)

    def _join_lrm_reservations(self, observation: Observation, now: float) -> tuple[str, ...]:
        """Put the workers booted for an LRM's reservation into it (Slurm with dynamic
        nodes), so that only the reservation's jobs run there. The first failure ends
        the step for this pass (a hung LRM costs one timeout); the next pass retries."""
        if not isinstance(self.lrm, JoinsReservations):
            return ()
        for reservation, hosts in to_join(self.site, observation, now):
            try:
                self.lrm.add_to_reservation(reservation.name, hosts)
            except LRMError as exc:
                message = f"could not add {', '.join(hosts)} to reservation {reservation.name}"
                log.warning("%s: %s", message, exc)
                self.ledger.event(now, "reservation-join-failed", str(exc), reservation.id)
                return (f"{message}: {exc}",)
            message = f"{', '.join(hosts)} put into the LRM's reservation {reservation.name}"
            log.info("reservation %s: %s", reservation.id, message)
            self.ledger.event(now, "reservation-join", message, reservation.id)
        return ()

    def _publish_heartbeat(
        self, observation: Observation, now: float, act_by: float
    ) -> tuple[str, ...]:
        """Tell the cloud workers' dead-man switch that this controller is alive: one
        CreateTags call a pass (docs/deadman.md). A failure is reported: if it lasts
        ``heartbeat_timeout_s``, idle cloud workers power themselves off."""
        provider = self.providers.get(ProviderKind.EC2)
        publish = getattr(provider, "publish_heartbeat", None)
        if publish is None or not observation.cloud_ok:
            return ()
        limit = max(1.0, act_by - time.monotonic())
        outcome = run_all({"heartbeat": lambda: publish(now)}, limit, 1)["heartbeat"]
        if outcome.ok:
            return ()
        error = f"heartbeat for the cloud workers not published: {_why(outcome.error, limit)}"
        log.error("%s", error)
        return (error,)

    def _without_in_flight(self, decided: Plan) -> Plan:
        """No action on a node whose abandoned call may still be running in this process."""
        if not self._in_flight:
            return decided
        kept = tuple(a for a in decided.actions if a.node_id not in self._in_flight)
        if len(kept) == len(decided.actions):
            return decided
        note = f"call(s) still in flight on {', '.join(sorted(self._in_flight))}: left alone"
        return replace(decided, actions=kept, notes=(*decided.notes, note))

    def _fold_joins(self, reconciled: Reconciliation, now: float) -> None:
        """A node that joined clears its target's boot backoff."""
        joined = {
            c.node_id for c in reconciled.corrections if c.fields.get("state") is NodeState.READY
        }
        outcomes = [_outcome(w, ok=True) for w in reconciled.workers if w.id in joined]
        self._store_backoffs(outcomes, now)

    def _fold_results(self, results: list[ActionResult], now: float) -> None:
        """Failed boots, and nodes destroyed for never joining, back their target off; a
        probe job that ran is a join, as in ``_fold_joins``."""
        outcomes = []
        for r in results:
            action = r.action
            if isinstance(action, Boot) and not r.ok:
                outcomes.append(_outcome(action, ok=False, error=r.error))
                continue
            joined = isinstance(action, Probe) and r.ok
            never = isinstance(action, Destroy) and action.never_joined and r.ok
            record = self.ledger.get(action.node_id) if joined or never else None
            if record is not None and joined:
                outcomes.append(_outcome(record, ok=True))
            elif record is not None:
                error = f"{action.node_id} never joined the LRM ({action.reason})"
                outcomes.append(_outcome(record, ok=False, error=error))
        self._store_backoffs(outcomes, now)

    def _store_backoffs(self, outcomes: list[BootOutcome], now: float) -> None:
        if not outcomes:
            return
        current = {(b.vo, b.provider, b.location): b for b in self.ledger.backoffs()}
        changed, cleared = fold(current, outcomes, now, self.site.policy)
        for key in cleared:
            self.ledger.clear_backoff(*key)
            self.ledger.event(now, "backoff-cleared", f"{key[0]} on {key[1]} {key[2]}", None)
        for backoff in changed:
            self.ledger.put_backoff(backoff, now)
            line = describe(backoff, now, self.site.policy)
            log.warning("%s", line)
            self.ledger.event(now, "backoff", line, None)

    def _destroy_drained(
        self, drained: set[str], act_by: float
    ) -> tuple[tuple[Destroy, ...], list[ActionResult]]:
        """Destroy, in the same pass, the nodes just drained that the LRM now shows empty.

        A drain only stops new work; the LRM is read again after it, and only a
        node it shows drained and running nothing is destroyed, by the same rule
        as any other pass (``planning.scale_down.plan_destroys``), so a job dispatched
        between the observation and the drain keeps its node. Without this a
        retired cloud VM is billed one more pass interval: minutes for a site on
        cron. The providers are read again too: this pass's boots are not in the
        first inventories, and reconciling against those would take them for
        vanished VMs.
        """
        now = self.clock()
        observation, observed, reconciled = self.prepare(now, record=True)
        self._apply(reconciled, now)
        if not observation.lrm_ok or not observation.scale_down_ok:
            why = "; ".join(observed.errors) or "the LRM reading is not trusted"
            log.warning("drained nodes are destroyed next pass: %s", why)
            return (), []
        just_drained = [n for n in observation.nodes if n.id in drained]
        destroys = tuple(plan_destroys(just_drained, self.site, now))
        for action in destroys:
            decisions.info(
                "plan destroy %s (%s): %s",
                action.node_id,
                action.vo,
                action.reason,
                extra=decision_fields(action.vo, action.node_id, action.kind, action.reason),
            )
        if not destroys:
            return (), []
        return destroys, self.actuator(now, act_by).run(destroys)

    def actuator(self, now: float, act_by: float | None = None) -> Actuator:
        """The pass's Actuator: every boot, drain and destroy goes through one (slurm-resume
        included), with what is left of the act deadline."""
        left = None if act_by is None else max(1.0, act_by - time.monotonic())
        return Actuator(
            self.site,
            self.ledger,
            self.lrm,
            self.providers,
            self.render_user_data,
            now,
            deadline_s=left,
            probe=self.probe,
        )


def with_probes(decided: Plan, observation: Observation, probing: set[str]) -> Plan:
    """The plan and a Probe for each node of a probing VO that the LRM lists as up but that
    is still JOINING, unless the plan already acts on it.

    Probes are added here, after planning, not by the planner (a probe job is the LRM's
    business, not a capacity decision): a dry run (``plan``) lists them, only a real pass
    runs them; a failed one leaves the node JOINING and is planned again next pass, until
    the planner destroys it, once empty, at its boot deadline like any node that never
    became ready (``planning.scale_down.destroy_reason``)."""
    acted = {a.node_id for a in decided.actions}
    why = "joined the LRM; its probe job runs before it counts as ready"
    added = tuple(
        Probe(n.id, n.vo, why)
        for n in observation.nodes
        if n.vo in probing
        and n.state is NodeState.JOINING
        and n.lrm_state in UP_STATES
        and n.id not in acted
    )
    return replace(decided, actions=(*decided.actions, *added)) if added else decided


def _outcome(node: Boot | NodeRecord | WorkerNode, *, ok: bool, error: str = "") -> BootOutcome:
    """A boot's end for the backoff of its target (a host, or an EC2 instance type)."""
    location = target_of(node.provider, node.location, node.instance_type)
    return BootOutcome(node.vo, node.provider, location, ok, error)


def _without_vms(observed: Observed, node_ids: set[str]) -> Observed:
    inventories = {
        kind: None
        if inventory is None
        else replace(inventory, vms=tuple(v for v in inventory.vms if v.node_id not in node_ids))
        for kind, inventory in observed.inventories.items()
    }
    return replace(observed, inventories=inventories)


def _why(error: BaseException | TimedOut | None, limit: float) -> str:
    if isinstance(error, TimedOut):
        return f"no answer within {limit:g} s"
    return str(error)


def log_plan(decided: Plan, reported: set[tuple[str, str]] | None = None) -> None:
    """Log the plan. An unplaceable job is a warning the first time ``reported`` (kept
    across a daemon's passes) sees it, and a debug line on later passes."""
    for decision in decided.decisions:
        decisions.info("decision %s", decision.summary(), extra=decision_fields(decision.vo))
    for note in decided.notes:
        log.warning("%s", note)
    for item in decided.unplaceable:
        key = (item.job_id, item.reason)
        level = logging.DEBUG if reported is not None and key in reported else logging.WARNING
        log.log(level, "unplaceable job %s (x%d): %s", item.job_id, item.count, item.reason)
        if reported is not None:
            reported.add(key)
    for action in decided.actions:
        decisions.info(
            "plan %s %s (%s): %s",
            action.kind,
            action.node_id,
            action.vo,
            action.reason,
            extra=decision_fields(action.vo, action.node_id, action.kind, action.reason),
        )


def site_lock(site: Site) -> FileLock:
    """The one-pass-at-a-time lock: ``<ledger file>.lock`` next to a ledger file, and for a
    ledger on a database server (``site.state`` a URL) ``<site dir>/.elastic-<site>.lock``
    beside the site file, since a file lock must be local (``Site.state_side_file``)."""
    path = site.state_side_file(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path))


def run_locked(
    site: Site, engine: Engine, *, dry_run: bool = False, hold_if_abandoned: bool = False
) -> PassResult:
    """One pass under the site lock; PassLocked at once if another pass holds it.

    With ``hold_if_abandoned`` (``run-once``) a pass that abandoned a hung call
    returns with the lock still held: the caller exits the process, which lets go
    of it, so no other pass can act while that call may still be under way.
    """
    lock = site_lock(site)
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise PassLocked(
            f"another pass is running for site {site.site.name} ({lock.lock_file})"
        ) from exc
    held = False
    try:
        result = engine.run_pass(dry_run=dry_run)
        held = hold_if_abandoned and abandoned_calls() > 0
        return result
    finally:
        if not held:
            lock.release()
