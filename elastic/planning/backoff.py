"""Boots that fail: counted per (VO, target), backed off exponentially, failed over.

Layer: pure. A target is a local host, or for EC2
an instance type. Errors became data at the action boundary; this folds them
into the counters the next plan reads: without it a missing base image on one
host was retried every pass for ever, and the VO's demand never went elsewhere.
A boot that never joins the LRM by its deadline counts as a failure too; a node
that joins resets its target's counter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from elastic.config import Policy
from elastic.model import BootBackoff, ProviderKind


@dataclass(frozen=True)
class BootOutcome:
    """One boot's end: failed (with the error) or joined."""

    vo: str
    provider: ProviderKind
    location: str  # host name, or the EC2 instance type
    ok: bool
    error: str = ""


def target_of(provider: ProviderKind, location: str, instance_type: str) -> str:
    """Backoffs are per host locally and per instance type on EC2."""
    return instance_type if provider is ProviderKind.EC2 and instance_type else location


def delay_s(failures: int, policy: Policy) -> float:
    exponent = min(max(failures - 1, 0), 30)
    return float(min(policy.boot_backoff_s * 2**exponent, policy.boot_backoff_max_s))


def fold(
    current: Mapping[tuple[str, ProviderKind, str], BootBackoff],
    outcomes: Iterable[BootOutcome],
    now: float,
    policy: Policy,
) -> tuple[list[BootBackoff], list[tuple[str, ProviderKind, str]]]:
    """New or raised backoffs, and the targets a success cleared.

    Failures are counted per pass: the boots of one pass on one target fail for
    one cause, and counting each would fail over after a single bad pass.
    """
    changed: dict[tuple[str, ProviderKind, str], BootBackoff] = {}
    cleared: list[tuple[str, ProviderKind, str]] = []
    for outcome in outcomes:
        key = (outcome.vo, outcome.provider, outcome.location)
        if outcome.ok:
            if key in current or key in changed:
                cleared.append(key)
                changed.pop(key, None)
            continue
        if key in changed:
            continue  # several boots failing on one target in one pass are one failure
        before = current.get(key)
        failures = (before.failures if before else 0) + 1
        changed[key] = BootBackoff(
            outcome.vo,
            outcome.provider,
            outcome.location,
            failures,
            now + delay_s(failures, policy),
            outcome.error[:500],
        )
    return list(changed.values()), cleared


def describe(backoff: BootBackoff, now: float, policy: Policy) -> str:
    """The line `status` and the pass's warning print for an active backoff."""
    where = f"EC2 {backoff.location}" if backoff.provider is ProviderKind.EC2 else backoff.location
    then = (
        "its demand goes to the next target"
        if backoff.failures >= policy.boot_failures_before_failover
        else f"its demand waits (failover after {policy.boot_failures_before_failover})"
    )
    return (
        f"boot backoff: VO {backoff.vo} on {where} after {backoff.failures} failed boot(s), "
        f"retried in {max(0.0, backoff.until - now):.0f} s; {then}; last error: "
        f"{backoff.last_error}"
    )


@dataclass(frozen=True)
class BackoffView:
    """What the planner asks of the backoffs this pass."""

    active: tuple[BootBackoff, ...]
    failover_after: int

    @staticmethod
    def of(backoffs: Iterable[BootBackoff], now: float, policy: Policy) -> BackoffView:
        live = tuple(b for b in backoffs if b.active(now))
        return BackoffView(live, policy.boot_failures_before_failover)

    def blocked(self, vo: str, provider: ProviderKind, location: str) -> bool:
        """This VO may not boot on this target now."""
        return any((b.vo, b.provider, b.location) == (vo, provider, location) for b in self.active)

    def on(self, vo: str, provider: ProviderKind, location: str) -> BootBackoff | None:
        """The backoff that blocks this VO on this target now, if any."""
        return next(
            (b for b in self.active if (b.vo, b.provider, b.location) == (vo, provider, location)),
            None,
        )

    def waiting(self, vo: str) -> BootBackoff | None:
        """A backoff below the failover count holds all of the VO's boots: the target
        is still the one to use, once it recovers (a transient error)."""
        return next(
            (b for b in self.active if b.vo == vo and b.failures < self.failover_after), None
        )
