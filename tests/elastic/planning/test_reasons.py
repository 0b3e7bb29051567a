"""One situation per reason kind: the plan names the binding limit with its figures.

Each test builds the smallest observation in which one limit binds and asserts the
cause, the count and the figures an admin would need to change it (issue 12)."""

from __future__ import annotations

from dataclasses import replace

from elastic.model import (
    BootBackoff,
    Cause,
    Host,
    Job,
    LrmNodeState,
    NodeState,
    Observation,
    ProviderKind,
    VoDecision,
)
from elastic.planning import plan
from tests.factories import host, jobs, make_site, node, with_atlas

LOCAL, EC2 = ProviderKind.LIBVIRT, ProviderKind.EC2
NOW = 10_000.0
FULL = Host("hv1", 16, 64000, 2, 4096)  # 2 cores / 4 GB free: no 4-core worker fits


def observe(job_list=(), nodes=(), hosts=(FULL,), **kw) -> Observation:
    return Observation(jobs=tuple(job_list), nodes=tuple(nodes), hosts=tuple(hosts), **kw)


def atlas(p) -> VoDecision:
    return next(d for d in p.decisions if d.vo == "atlas")


def only_short(p):
    (short,) = atlas(p).short
    return short


def test_vo_max_nodes_with_limit_and_held():
    site = with_atlas({"max_nodes": 3})
    held = [node(f"n{i}", lrm=LrmNodeState.BUSY, running=1) for i in range(3)]
    short = only_short(plan(observe(jobs("atlas", 5), held), site, NOW))
    assert short.count == 5 and short.reason.cause is Cause.VO_MAX_NODES
    assert short.reason.figures == {"limit": 3, "held": 3}
    assert "max_nodes 3" in short.reason.text


def test_boot_budget_names_the_per_pass_limit():
    site = make_site(policy={"max_boots_per_pass": 2})
    p = plan(observe(jobs("atlas", 5), hosts=(host(),)), site, NOW)
    assert len(p.boots) == 2
    short = only_short(p)
    assert (short.count, short.reason.cause) == (3, Cause.BOOT_BUDGET)
    assert short.reason.figures == {"per_pass": 2}


def test_vo_cloud_budget_with_limit_spent_and_next():
    site = with_atlas(
        {"cloud": {"max_hourly_cost": 2.0}},
        ec2={"prices": {"c5.xlarge": 0.34}},
    )
    spent = [node("e1", provider=EC2, cost=1.86, lrm=LrmNodeState.BUSY, running=1)]
    short = only_short(plan(observe(jobs("atlas", 1), spent), site, NOW))
    assert short.reason.cause is Cause.VO_CLOUD_BUDGET
    assert short.reason.figures == {"limit": 2.0, "spent": 1.86, "next": 0.34}
    assert short.reason.text == "cloud budget: VO atlas $1.86/h of $2.00/h, next $0.34/h"
    assert short.also is not None and short.also.cause is Cause.NO_LOCAL_ROOM


def test_site_cloud_budget_left_at_zero():
    site = make_site(ec2={"max_hourly_cost": 0.0})
    short = only_short(plan(observe(jobs("atlas", 2)), site, NOW))
    assert (short.count, short.reason.cause) == (2, Cause.SITE_CLOUD_BUDGET)
    assert short.reason.figures == {"limit": 0.0, "spent": 0.0, "next": 0.2}


def test_vo_cloud_max_nodes_and_site_max_instances():
    site = with_atlas({"cloud": {"max_nodes": 2}})
    p = plan(observe(jobs("atlas", 5)), site, NOW)
    assert len(p.boots) == 2
    short = only_short(p)
    assert (short.count, short.reason.cause) == (3, Cause.VO_CLOUD_MAX_NODES)
    assert short.reason.figures == {"limit": 2, "held": 2}
    site = make_site(ec2={"max_instances": 1})
    short = only_short(plan(observe(jobs("atlas", 3)), site, NOW))
    assert (short.count, short.reason.cause) == (2, Cause.SITE_MAX_INSTANCES)


def test_burst_delay_with_the_oldest_jobs_age():
    site = make_site(policy={"cloud_burst_after_s": 120})
    young = jobs("atlas", 2, submit_time=NOW - 40)
    short = only_short(plan(observe(young), site, NOW))
    assert (short.count, short.reason.cause) == (2, Cause.BURST_DELAY)
    assert short.reason.figures == {"oldest_job_age": 40.0, "after": 120}


def test_freeing_soon_with_cores_and_horizon():
    site = make_site(policy={"cloud_boot_s": 180})
    running = [
        Job(
            "r1",
            cores=8,
            vo="atlas",
            project="atlas",
            running=True,
            start_time=NOW - 100,
            walltime_s=200,
        )
    ]
    short = only_short(plan(observe([*running, *jobs("atlas", 2)]), site, NOW))
    assert (short.count, short.reason.cause) == (2, Cause.FREEING_SOON)
    assert short.reason.figures == {"cores": 8, "within": 180}


def test_no_local_room_with_largest_free_and_flavor_when_the_vo_may_not_burst():
    site = with_atlas({"cloud": {"allowed": False}})
    short = only_short(plan(observe(jobs("atlas", 1)), site, NOW))
    assert short.reason.cause is Cause.NO_LOCAL_ROOM
    assert short.reason.figures == {
        "largest_free_cores": 2,
        "largest_free_memory_mb": 4096,
        "flavor_cores": 4,
        "flavor_memory_mb": 8000,
    }
    assert short.also is not None and short.also.cause is Cause.CLOUD_NOT_ALLOWED


def test_hosts_unreadable_names_the_hosts():
    dark = replace(host(), reachable=False)
    short = only_short(plan(observe(jobs("atlas", 1), hosts=(dark,)), make_site(), NOW))
    assert short.reason.cause is Cause.HOSTS_UNREADABLE
    assert short.reason.figures == {"hosts": "hv1"}


def test_backoff_names_the_target_and_when():
    backoff = BootBackoff("atlas", LOCAL, "hv1", 1, NOW + 90, "no base image")
    obs = observe(jobs("atlas", 1), hosts=(host(),), backoffs=(backoff,))
    short = only_short(plan(obs, make_site(policy={"boot_failures_before_failover": 2}), NOW))
    assert short.reason.cause is Cause.BACKOFF
    assert short.reason.figures["until"] == NOW + 90 and short.reason.figures["failures"] == 1
    assert "90 s" in short.reason.text


def test_cloud_unreadable_and_no_cloud_section():
    short = only_short(plan(observe(jobs("atlas", 1), cloud_ok=False), make_site(), NOW))
    assert short.reason.cause is Cause.CLOUD_UNREADABLE
    assert short.also is not None and short.also.cause is Cause.NO_LOCAL_ROOM
    site = make_site()
    site = site.model_copy(update={"ec2": None})
    short = only_short(plan(observe(jobs("atlas", 1)), site, NOW))
    assert short.reason.cause is Cause.NO_LOCAL_ROOM and short.also.cause is Cause.NO_CLOUD


def test_lrm_unread_holds_every_vo():
    p = plan(observe(jobs("atlas", 3), lrm_ok=False), make_site(), NOW)
    assert all(d.hold is not None and d.hold.cause is Cause.LRM_UNREAD for d in p.decisions)


def test_min_nodes_wants_are_not_short_when_met():
    site = with_atlas({"min_nodes": 2})
    p = plan(observe(hosts=(host(),)), site, NOW)
    d = atlas(p)
    assert d.wanted == 2 and d.boots_local == 2 and not d.short


def test_kept_idle_nodes_each_carry_why():
    site = with_atlas({"min_nodes": 2})
    fresh = node("fresh", idle_since=NOW - 100)  # 100 s of a 600 s local timeout
    old = node("old", idle_since=NOW - 5000)
    p = plan(observe(nodes=[fresh, old]), site, NOW)
    kept = {k.node_id: k.reason for k in atlas(p).kept}
    assert kept["fresh"].cause is Cause.IDLE_BELOW_TIMEOUT
    assert kept["fresh"].figures == {"idle": 100.0, "timeout": 600, "left": 500.0}
    assert kept["old"].cause is Cause.MIN_NODES
    assert kept["old"].figures == {"min_nodes": 2, "alive": 2}
    assert not p.drains


def test_idle_node_needed_by_demand_is_kept_for_it():
    old = node("old", idle_since=NOW - 5000)
    busy = node("busy", lrm=LrmNodeState.BUSY, running=1)
    p = plan(observe(jobs("atlas", 1), nodes=[old, busy]), make_site(), NOW)
    assert {k.node_id: k.reason.cause for k in atlas(p).kept} == {"old": Cause.NEEDED}


def test_untrusted_reading_keeps_idle_nodes_with_the_reason():
    old = node("old", idle_since=NOW - 5000)
    p = plan(observe(nodes=[old], scale_down_ok=False), make_site(), NOW)
    assert [k.reason.cause for k in atlas(p).kept] == [Cause.SCALE_DOWN_HELD]
    assert not p.drains


def test_the_plan_prints_no_catch_all_sentence():
    from elastic.report import plan_text

    site = make_site(ec2={"max_hourly_cost": 0.0})
    text = plan_text(plan(observe(jobs("atlas", 2)), site, NOW))
    assert "2 short: cloud budget: site $0.00/h of $0.00/h, next $0.20/h" in text
    assert "cloud limits or boot budget" not in text


def test_draining_node_still_counts_against_max_nodes():
    site = with_atlas({"max_nodes": 1})
    leaving = node("d", state=NodeState.DRAINING, lrm=LrmNodeState.DRAINING, running=1)
    short = only_short(plan(observe(jobs("atlas", 1), nodes=[leaving], hosts=(host(),)), site, NOW))
    assert short.reason.cause is Cause.VO_MAX_NODES and short.reason.figures["held"] == 1
