"""Every reason the planner gives, built in one place with its figures and its words.

Layer: pure. A reason names the one limit that bound, with the numbers an admin needs to
change it (``limit``, what is ``held`` or ``spent``, what the ``next`` would cost), so
"why did VO X get nothing?" is answered by the plan itself; the same value reaches
``plan``, ``explain``, the logs and Slurm's node reasons. Amounts are in the units of
site.yaml (cores, MB, $/h, seconds).
"""

from __future__ import annotations

from collections.abc import Sequence

from elastic.model import Cause, Reason
from elastic.planning.thresholds import Threshold


def usd(per_hour: float) -> str:
    return f"${per_hour:.2f}/h"


def lrm_unread() -> Reason:
    return Reason(Cause.LRM_UNREAD, "LRM unread: nothing decided")


def vo_max_nodes(vo: str, limit: int, live: int, this_call: int = 0) -> Reason:
    """``live`` nodes hold VMs (draining and failed ones too, until they are gone);
    ``this_call`` counts nodes a Slurm resume call has already placed."""
    more = f", {this_call} resumed by this call" if this_call else ""
    return Reason(
        Cause.VO_MAX_NODES,
        f"VO {vo} max_nodes {limit} reached ({live} live{more})",
        {"limit": limit, "held": live + this_call},
    )


def boot_budget(per_pass: int) -> Reason:
    return Reason(
        Cause.BOOT_BUDGET,
        f"policy.max_boots_per_pass {per_pass} reached this pass",
        {"per_pass": per_pass},
    )


def backoff(target: str, until: float, now: float, failures: int, threshold: int) -> Reason:
    return Reason(
        Cause.BACKOFF,
        f"boots on {target} back off for {max(0.0, until - now):.0f} s more "
        f"({failures} failure(s), fail-over after {threshold})",
        {"target": target, "until": until, "failures": failures, "threshold": threshold},
    )


def no_local_image(vo: str) -> Reason:
    return Reason(Cause.NO_LOCAL_IMAGE, f"VO {vo} has no libvirt image")


def no_local_hosts() -> Reason:
    return Reason(Cause.NO_LOCAL_HOSTS, "no local hypervisor in site.yaml")


def no_local_room(cores: int, memory_mb: int, flavor_cores: int, flavor_memory_mb: int) -> Reason:
    return Reason(
        Cause.NO_LOCAL_ROOM,
        f"no local room (largest free {cores} cores/{memory_mb} MB, "
        f"flavor {flavor_cores} cores/{flavor_memory_mb} MB)",
        {
            "largest_free_cores": cores,
            "largest_free_memory_mb": memory_mb,
            "flavor_cores": flavor_cores,
            "flavor_memory_mb": flavor_memory_mb,
        },
    )


def local_unreadable() -> Reason:
    return Reason(Cause.LOCAL_UNREADABLE, "local hypervisors could not be read")


def hosts_unreadable(hosts: Sequence[str]) -> Reason:
    return Reason(
        Cause.HOSTS_UNREADABLE,
        f"local host(s) {', '.join(hosts)} cannot be read and "
        "policy.burst_when_local_unreadable is false",
        {"hosts": ",".join(hosts)},
    )


def burst_delay(oldest_job_age: float, after: int) -> Reason:
    return Reason(
        Cause.BURST_DELAY,
        f"jobs pending {oldest_job_age:.0f} s < policy.cloud_burst_after_s {after} s",
        {"oldest_job_age": round(oldest_job_age, 1), "after": after},
    )


def threshold_words(threshold: Threshold) -> str:
    """A threshold's seconds, and where they came from when ``auto`` derived them (a set
    key reads as the number alone, as it always did)."""
    if threshold.source.startswith("policy."):
        return f"{threshold.seconds} s"
    return f"{threshold.seconds} s = {threshold.source}"


def burst_below_threshold(oldest_job_age: float, threshold: Threshold) -> Reason:
    """The burst delay's reason, saying what the delay was derived from when it was."""
    if threshold.source.startswith("policy."):
        return burst_delay(oldest_job_age, threshold.seconds)
    return Reason(
        Cause.BURST_DELAY,
        f"jobs pending {oldest_job_age:.0f} s < burst delay {threshold_words(threshold)}",
        {
            "oldest_job_age": round(oldest_job_age, 1),
            "after": threshold.seconds,
            "source": threshold.source,
        },
    )


def freeing_soon(cores: int, within: int) -> Reason:
    return Reason(
        Cause.FREEING_SOON,
        f"{cores} cores of running jobs free by their walltimes within "
        f"policy.cloud_boot_s {within} s",
        {"cores": cores, "within": within},
    )


def cloud_not_allowed(vo: str) -> Reason:
    return Reason(Cause.CLOUD_NOT_ALLOWED, f"VO {vo} may not burst")


def no_cloud() -> Reason:
    return Reason(Cause.NO_CLOUD, "no ec2 section in site.yaml")


def cloud_unreadable() -> Reason:
    return Reason(Cause.CLOUD_UNREADABLE, "EC2 could not be read this pass")


def no_instance_types(vo: str) -> Reason:
    return Reason(Cause.NO_INSTANCE_TYPES, f"VO {vo} has no usable ec2.instance_types")


def no_cloud_image(vo: str) -> Reason:
    return Reason(Cause.NO_CLOUD_IMAGE, f"VO {vo} has no EC2 image")


def vo_cloud_max_nodes(vo: str, limit: int, held: int) -> Reason:
    return Reason(
        Cause.VO_CLOUD_MAX_NODES,
        f"VO {vo} cloud.max_nodes {limit} reached ({held} in use)",
        {"limit": limit, "held": held},
    )


def site_max_instances(limit: int, held: int) -> Reason:
    return Reason(
        Cause.SITE_MAX_INSTANCES,
        f"site ec2.max_instances {limit} reached ({held} in use)",
        {"limit": limit, "held": held},
    )


def vo_cloud_budget(vo: str, limit: float, spent: float, price: float) -> Reason:
    return Reason(
        Cause.VO_CLOUD_BUDGET,
        f"cloud budget: VO {vo} {usd(spent)} of {usd(limit)}, next {usd(price)}",
        {"limit": round(limit, 4), "spent": round(spent, 4), "next": round(price, 4)},
    )


def site_cloud_budget(limit: float, spent: float, price: float) -> Reason:
    return Reason(
        Cause.SITE_CLOUD_BUDGET,
        f"cloud budget: site {usd(spent)} of {usd(limit)}, next {usd(price)}",
        {"limit": round(limit, 4), "spent": round(spent, 4), "next": round(price, 4)},
    )


def idle_below_timeout(idle_s: float, timeout_s: int) -> Reason:
    return Reason(
        Cause.IDLE_BELOW_TIMEOUT,
        f"idle {idle_s:.0f} s < idle timeout {timeout_s} s ({timeout_s - idle_s:.0f} s left)",
        {"idle": round(idle_s, 1), "timeout": timeout_s, "left": round(timeout_s - idle_s, 1)},
    )


def idle_below_threshold(idle_s: float, threshold: Threshold) -> Reason:
    """The idle-timeout reason, saying what the timeout was derived from when it was."""
    timeout = threshold.seconds
    if threshold.source.startswith("policy."):
        return idle_below_timeout(idle_s, timeout)
    return Reason(
        Cause.IDLE_BELOW_TIMEOUT,
        f"idle {idle_s:.0f} s < idle timeout {threshold_words(threshold)} "
        f"({timeout - idle_s:.0f} s left)",
        {
            "idle": round(idle_s, 1),
            "timeout": timeout,
            "left": round(timeout - idle_s, 1),
            "source": threshold.source,
        },
    )


def needed(nodes_needed: int) -> Reason:
    return Reason(
        Cause.NEEDED,
        f"needed by pending demand ({nodes_needed} node(s))",
        {"nodes_needed": nodes_needed},
    )


def min_nodes(vo: str, minimum: int, alive: int) -> Reason:
    return Reason(
        Cause.MIN_NODES,
        f"VO {vo} min_nodes {minimum} ({alive} alive)",
        {"min_nodes": minimum, "alive": alive},
    )


def scale_down_held() -> Reason:
    return Reason(
        Cause.SCALE_DOWN_HELD,
        "the LRM reading is not trusted: nothing is drained or destroyed this pass",
    )


def takes_cloud_work(cloud_node: str) -> Reason:
    return Reason(
        Cause.TAKES_CLOUD_WORK,
        f"kept to take the jobs of idle cloud worker {cloud_node}, drained this pass",
        {"cloud_node": cloud_node},
    )


def reserved(vo: str, names: list[str], floor: int, alive: int) -> Reason:
    return Reason(
        Cause.RESERVED,
        f"VO {vo} reservation {', '.join(names)} holds {floor} node(s) ({alive} alive)",
        {"reservations": ",".join(names), "nodes": floor, "alive": alive},
    )


def not_freed_in_time(vo: str, lead_in_s: float) -> Reason:
    """No local room for a coming reservation's node, and no worker on it whose jobs'
    walltimes end before the boot must start."""
    return Reason(
        Cause.NO_LOCAL_ROOM,
        f"no local room for a worker of {vo}, and no worker's jobs end by their walltimes "
        f"before its boot in {lead_in_s:.0f} s",
        {"boot_in": round(lead_in_s, 1)},
    )


def reservation_at_risk(name: str, start_in_s: float, why: Reason) -> Reason:
    """A due reservation's node found no place: the binding limit, and how soon it starts."""
    when = f"starts in {start_in_s:.0f} s" if start_in_s > 0 else "has started"
    return Reason(
        Cause.RESERVATION_AT_RISK,
        f"reservation {name} {when}: {why.text}",
        {"reservation": name, "start_in": round(start_in_s, 1), "cause": why.cause.value},
    )
