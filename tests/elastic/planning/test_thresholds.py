"""Rent-or-buy thresholds: each rule's figure from a boot time and a price, `auto` read from
site.yaml, and the plan's hold and idle timeout following a 600 s boot (issue 15)."""

from __future__ import annotations

import pytest

from elastic.config import ConfigError
from elastic.explain import explain_vo
from elastic.model import Cause, Job, Observation, ProviderKind, VoDecision
from elastic.planning import plan
from elastic.planning.thresholds import (
    BootTime,
    Threshold,
    boot_time,
    burst_break_even,
    burst_delay,
    cloud_idle_break_even,
    idle_timeout,
    local_idle_break_even,
)
from tests.factories import jobs, make_site, node

LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2
NOW = 10_000.0
FULL = ()  # no host: every want goes to EC2
AUTO = {"idle_timeout_cloud_s": "auto", "idle_timeout_local_s": "auto"}
SLOW = {EC2: 600.0, LOCAL: 90.0}


def atlas(p) -> VoDecision:
    return next(d for d in p.decisions if d.vo == "atlas")


def observe(job_list=(), nodes=(), hosts=FULL, boot_p95_s=None) -> Observation:
    return Observation(
        jobs=tuple(job_list),
        nodes=tuple(nodes),
        hosts=tuple(hosts),
        boot_p95_s=boot_p95_s or {},
    )


def test_cloud_idle_break_even_is_the_boot_and_says_the_money():
    t = cloud_idle_break_even(BootTime(420.0, "boot p95 of ec2"), hourly_price=0.36)
    assert t.seconds == 420
    # what a replacement bills before it takes a job: 0.36 $/h x 420 s
    assert t.source == "boot p95 of ec2; a new worker bills $0.042 before its first job"


def test_cloud_idle_break_even_is_never_below_the_billing_minimum():
    t = cloud_idle_break_even(BootTime(20.0, "boot p95 of ec2"), hourly_price=0.0)
    assert t == Threshold(60, "EC2 billing minimum (boot p95 of ec2 shorter)")


def test_burst_break_even_is_the_boot():
    assert burst_break_even(BootTime(600.4, "boot p95 of ec2")).seconds == 600


def test_local_idle_break_even_is_the_local_boot_but_outlasts_the_cloud_timeout():
    local = BootTime(90.0, "boot p95 of libvirt")
    assert local_idle_break_even(local, None) == Threshold(90, "boot p95 of libvirt")
    cloud = Threshold(600, "boot p95 of ec2")
    assert local_idle_break_even(local, cloud) == Threshold(
        600, "cloud idle timeout (boot p95 of ec2)"
    )


def test_boot_time_is_the_measured_p95_else_the_reservations_estimate():
    site = make_site(reservations={"boot_estimate_s": {"ec2": 250}})
    assert boot_time(site, {EC2: 612.0}, EC2) == BootTime(612.0, "boot p95 of ec2")
    assert boot_time(site, {}, EC2) == BootTime(250.0, "reservations.boot_estimate_s[ec2]")


def test_auto_is_read_from_site_yaml_and_numbers_stay_numbers():
    site = make_site(policy={**AUTO, "cloud_burst_after_s": "auto"})
    assert site.policy.idle_timeout_cloud_s == "auto"
    assert site.policy.idle_timeout_local_s == "auto"
    assert site.policy.cloud_burst_after_s == "auto"
    fixed = make_site(policy={"cloud_burst_after_s": 45})
    assert burst_delay(fixed, SLOW) == Threshold(45, "policy.cloud_burst_after_s")
    with pytest.raises(ConfigError, match="cloud_burst_after_s"):
        make_site(policy={"cloud_burst_after_s": "soon"})


def test_a_node_is_held_to_its_own_type_price_and_its_providers_boot():
    site = make_site(policy=AUTO)
    cloud = node("c1", provider=EC2, cost=0.72)
    t = idle_timeout(cloud, site, SLOW)
    assert t.seconds == 600 and "$0.120" in t.source  # 0.72 $/h x 600 s
    assert idle_timeout(node("l1"), site, SLOW).seconds == 600  # outlasts the cloud one
    assert idle_timeout(node("l1"), site, {EC2: 30.0, LOCAL: 90.0}).seconds == 90


def test_an_idle_cloud_worker_is_kept_past_300_s_when_boots_take_600_s():
    """The regression the derivation guards: the fixed 300 s would drain it."""
    site = make_site(policy=AUTO)
    idle = node("c1", provider=EC2, cost=0.2, idle_since=NOW - 400)
    kept = plan(observe(nodes=[idle], boot_p95_s=SLOW), site, NOW)
    assert not kept.drains
    (why,) = atlas(kept).kept
    assert why.reason.cause is Cause.IDLE_BELOW_TIMEOUT
    assert why.reason.figures["timeout"] == 600
    assert "idle timeout 600 s = boot p95 of ec2" in why.reason.text
    # the same worker on the same site with a 120 s boot is past its break-even
    fast = plan(observe(nodes=[idle], boot_p95_s={EC2: 120.0, LOCAL: 60.0}), site, NOW)
    assert [d.node_id for d in fast.drains] == ["c1"]
    assert "idle 400 s ≥ 120 s = boot p95 of ec2" in fast.drains[0].reason
    fixed = plan(observe(nodes=[idle], boot_p95_s=SLOW), make_site(), NOW)
    assert [d.node_id for d in fixed.drains] == ["c1"]  # policy 300 s, as before


def test_the_burst_hold_follows_a_600_s_boot():
    site = make_site(policy={"cloud_burst_after_s": "auto"})
    waited = jobs("atlas", 2, submit_time=NOW - 400)
    held = plan(observe(waited, boot_p95_s=SLOW), site, NOW)
    assert not held.boots
    (short,) = atlas(held).short
    assert (short.count, short.reason.cause) == (2, Cause.BURST_DELAY)
    assert short.reason.figures["after"] == 600
    assert "burst delay 600 s = boot p95 of ec2" in short.reason.text
    fast = plan(observe(waited, boot_p95_s={EC2: 120.0}), site, NOW)
    assert [b.provider for b in fast.boots] == [EC2, EC2]  # 400 s ≥ a 120 s boot
    older = [
        Job(j.id, j.cores, j.memory_mb, j.vo, project="atlas", submit_time=NOW - 700)
        for j in waited
    ]
    assert len(plan(observe(older, boot_p95_s=SLOW), site, NOW).boots) == 2


def test_before_any_boot_is_measured_the_estimate_sets_the_delay():
    site = make_site(
        policy={"cloud_burst_after_s": "auto"}, reservations={"boot_estimate_s": {"ec2": 500}}
    )
    waited = jobs("atlas", 1, submit_time=NOW - 400)
    (short,) = atlas(plan(observe(waited), site, NOW)).short
    assert short.reason.figures["after"] == 500
    assert "reservations.boot_estimate_s[ec2]" in short.reason.text


def test_explain_says_the_derived_figures_and_where_they_came_from():
    site = make_site(policy={**AUTO, "cloud_burst_after_s": "auto"})
    idle = node("c1", provider=EC2, cost=0.2, idle_since=NOW - 400)
    waited = jobs("atlas", 1, submit_time=NOW - 400)
    observation = observe(waited, [idle], boot_p95_s=SLOW)
    text = "\n".join(
        explain_vo("atlas", observation, plan(observation, site, NOW), site, NOW).lines()
    )
    assert "kept c1: idle 400 s < idle timeout 600 s = boot p95 of ec2" in text
    # the idle worker covers the job; with none, the burst delay would be the reason
    lone = observe(waited, boot_p95_s=SLOW)
    text = "\n".join(explain_vo("atlas", lone, plan(lone, site, NOW), site, NOW).lines())
    assert "burst delay 600 s = boot p95 of ec2" in text
