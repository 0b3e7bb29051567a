"""Rent-or-buy thresholds (idle timeouts, burst delay) derived from the boot time and price.

Layer: pure; imports elastic.model and elastic.config only. A threshold set to a number in
``policy`` is that number; set to ``auto`` it is the break-even of the rent-or-buy problem
it is (Karlin, Manasse, Rudolph and Sleator, "Competitive snoopy caching", Algorithmica 3,
1988: wait, or keep renting, until what has been paid equals the price of buying, then
buy; never more than twice the clairvoyant optimum, and no deterministic rule does
better). Here "buying" is a boot, so every break-even is a boot-to-ready time: the
provider's measured p95 (``Observation.boot_p95_s``, from the ledger's history) or, before
there is a history, ``reservations.boot_estimate_s``. Each figure carries its source, so
``elastic plan`` and ``explain`` can say "idle timeout 600 s = boot p95 of ec2".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from elastic.config import Site
from elastic.model import ProviderKind, WorkerNode

#: EC2 bills Linux on-demand instances per second with a 60 s minimum: a worker that is
#: released and replaced costs at least this much of a new one, whatever its boot
EC2_BILLING_MINIMUM_S = 60


@dataclass(frozen=True)
class BootTime:
    """A provider's boot-to-ready seconds and where the figure came from."""

    seconds: float
    source: str


@dataclass(frozen=True)
class Threshold:
    """A threshold in whole seconds, with the rule or key that set it (for the reasons)."""

    seconds: int
    source: str


def boot_time(site: Site, boot_p95_s: Mapping[ProviderKind, float], kind: ProviderKind) -> BootTime:
    """The measured p95 once there is one: a site whose boots got slower is then planned
    on the boots it has, not on a guess. Before that, the same estimate a reservation's
    lead is planned on, so the two never disagree about one provider."""
    measured = boot_p95_s.get(kind)
    if measured is not None:
        return BootTime(float(measured), f"boot p95 of {kind}")
    estimate = site.reservations.boot_estimate_s.get(kind.value, 300)
    return BootTime(float(estimate), f"reservations.boot_estimate_s[{kind}]")


def cloud_idle_break_even(boot: BootTime, hourly_price: float) -> Threshold:
    """How long an idle cloud worker is kept: the deterministic rent-or-buy rule.

    Keeping it idle costs its price per second ("rent"); releasing it and needing a
    worker again costs a new one billed from its request but taking jobs only after
    boot-to-ready, at least the billing minimum ("buy": price x max(boot, minimum)).
    Keeping it exactly that long costs at most twice what a clairvoyant would pay,
    whichever way the next job comes. With per-second billing (EC2 today) the price
    divides out and the break-even is the boot itself; it stays a parameter so that the
    figure is stated in money too. With hourly billing the rule differs: the hour is
    paid anyway, so a worker is kept to the end of its billed hour (StarCluster's kill
    window); elastic has no hourly-billed provider, so that case is not derived here.
    """
    if boot.seconds >= EC2_BILLING_MINIMUM_S:
        buy_s, source = boot.seconds, boot.source
    else:
        buy_s, source = EC2_BILLING_MINIMUM_S, f"EC2 billing minimum ({boot.source} shorter)"
    if hourly_price > 0:  # price x buy_s / price: the money is said, the seconds are buy_s
        source += f"; a new worker bills ${hourly_price * buy_s / 3600:.3f} before its first job"
    return Threshold(round(buy_s), source)


def burst_break_even(boot: BootTime) -> Threshold:
    """How long a job waits for local room before a cloud worker is rented for it.

    A boot started now serves the job only ``boot`` seconds from now; if local room frees
    sooner, the job starts there and the cloud worker was bought for nothing. Waiting
    ``boot`` seconds first ("rent" is the wait, "buy" is the boot) never rents a worker a
    clairvoyant would not, bar room freeing between one and two boots, and the job starts
    at most ``2 x boot`` after it could have (the clairvoyant, bursting at once, starts
    it after one boot): 2-competitive in the wait, the ski-rental bound. Peers burst at
    once instead (cluster-autoscaler's ``new-pod-scale-up-delay`` defaults to 0 s, CLUES
    powers a node on per request): they buy the wait with money; which one a site
    prefers is its own choice, so the number stays settable.
    """
    return Threshold(round(boot.seconds), boot.source)


def local_idle_break_even(local: BootTime, cloud: Threshold | None) -> Threshold:
    """How long an idle local worker is kept.

    It costs no money, so the rent is what it holds: power, and room another VO might
    want (``reclaim_idle`` drains it early for that VO, so that cost is not waited out
    here). Powering it down and up again costs a local boot: the break-even time of
    dynamic power management (Irani, Shukla and Gupta, "Online strategies for dynamic
    power management", ACM TECS 2(3), 2003: stay up until the idle energy equals a
    power-up's, 2-competitive), with a boot drawing about what an idle worker draws.
    Never shorter than the cloud idle timeout, though: a free worker must not be let go
    before a billed one of the same VO would be (cloud before local). What it saves is
    energy, which the simulator does not price: there it costs cloud money and waits
    (docs/thresholds.md), so the number stays the default.
    """
    if cloud is not None and cloud.seconds > local.seconds:
        return Threshold(cloud.seconds, f"cloud idle timeout ({cloud.source})")
    return Threshold(round(local.seconds), local.source)


def _vo_price(site: Site, vo: str) -> float:
    """The hourly price of the VO's first instance type (0 when it has none)."""
    if site.ec2 is None:
        return 0.0
    types = site.ec2.instance_types.get(vo, [])
    return site.ec2.prices.get(types[0], 0.0) if types else 0.0


def cloud_idle_timeout(
    site: Site, boot_p95_s: Mapping[ProviderKind, float], hourly_price: float
) -> Threshold:
    setting = site.policy.idle_timeout_cloud_s
    if setting != "auto":
        return Threshold(setting, "policy.idle_timeout_cloud_s")
    boot = boot_time(site, boot_p95_s, ProviderKind.EC2)
    return cloud_idle_break_even(boot, hourly_price)


def local_idle_timeout(site: Site, boot_p95_s: Mapping[ProviderKind, float]) -> Threshold:
    setting = site.policy.idle_timeout_local_s
    if setting != "auto":
        return Threshold(setting, "policy.idle_timeout_local_s")
    cloud = None
    if site.ec2 is not None:
        cloud = cloud_idle_timeout(site, boot_p95_s, 0.0)
    return local_idle_break_even(boot_time(site, boot_p95_s, ProviderKind.LIBVIRT), cloud)


def idle_timeout(
    node: WorkerNode, site: Site, boot_p95_s: Mapping[ProviderKind, float]
) -> Threshold:
    """The idle timeout scale-down holds ``node`` to, priced at its own type."""
    if node.provider is ProviderKind.EC2:
        return cloud_idle_timeout(site, boot_p95_s, node.hourly_cost or _vo_price(site, node.vo))
    return local_idle_timeout(site, boot_p95_s)


def burst_delay(site: Site, boot_p95_s: Mapping[ProviderKind, float]) -> Threshold:
    """The burst delay scale-up holds young jobs to."""
    setting = site.policy.cloud_burst_after_s
    if setting != "auto":
        return Threshold(setting, "policy.cloud_burst_after_s")
    return burst_break_even(boot_time(site, boot_p95_s, ProviderKind.EC2))
