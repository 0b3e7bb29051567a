"""record_pass on a built PassResult (values and labels), the textfile run-once writes, and
the /metrics endpoint the daemon serves."""

from __future__ import annotations

import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from elastic.actuation import ActionResult
from elastic.engine import PassLocked, PassResult
from elastic.metrics import ElasticRegistry, record_pass, serve_metrics, timed_pass, write_textfile
from elastic.model import (
    Boot,
    BootBackoff,
    Cause,
    Destroy,
    Drain,
    NodeState,
    Observation,
    Plan,
    ProviderKind,
    Reason,
    Short,
    Unplaceable,
    VoDecision,
)
from tests.factories import jobs, make_site, node, record

EC2, LIBVIRT = ProviderKind.EC2, ProviderKind.LIBVIRT


def boot(node_id: str, provider: ProviderKind, cost: float = 0.0) -> Boot:
    where = "hv1" if provider is LIBVIRT else "eu-west-1"
    return Boot(
        id=node_id,
        vo="atlas",
        provider=provider,
        location=where,
        cores=4,
        memory_mb=8000,
        hourly_cost=cost,
        reason="pending jobs",
    )


def busy_pass() -> PassResult:
    """A pass that saw a bit of everything and did a bit of everything."""
    dark = node("t-atlas-2", provider=EC2, cost=0.2)
    observation = Observation(
        jobs=(
            *jobs("atlas", 3, cores=4),
            *jobs("cms", 1, cores=8, count=2),
            *jobs("atlas", 5, cores=4, running=True),
            *jobs("atlas", 1, cores=1, runnable=False),
        ),
        nodes=(
            node("t-atlas-1"),
            replace(dark, dark_since=10.0),
            node("t-cms-3", "cms", state=NodeState.FAILED, provider=EC2, cost=0.34),
            node("t-atlas-4", state=NodeState.DRAINING),
            node("t-atlas-5", state=NodeState.JOINING, provider=EC2, cost=0.2),
        ),
        hosts=(),
        backoffs=(BootBackoff("atlas", LIBVIRT, "hv1", 2, until=500.0),),
    )
    budget = Reason(Cause.VO_CLOUD_BUDGET, "cloud budget")
    plan = Plan(
        decisions=(
            VoDecision(
                "atlas",
                pending_jobs=3,
                nodes_needed=5,
                nodes_alive=4,
                boots_local=1,
                boots_cloud=2,
                drains=1,
                destroys=1,
                short=(Short(2, budget), Short(1, Reason(Cause.BOOT_BUDGET, "boot budget"))),
            ),
        ),
        unplaceable=(Unplaceable("9", "cms", "64 cores", count=3),),
    )
    results = [
        ActionResult(boot("t-atlas-6", EC2, 0.2), ok=True),
        ActionResult(boot("t-atlas-7", LIBVIRT), ok=False, error="no such volume"),
        ActionResult(boot("t-atlas-8", EC2, 0.2), ok=False, error="late", abandoned=True),
        ActionResult(Drain("t-atlas-1", "atlas", "idle"), ok=True),
        ActionResult(Destroy("t-cms-3", "cms", "failed and empty"), ok=True),
        ActionResult(Destroy("t-atlas-4", "atlas", "drained and empty"), ok=True),
        ActionResult(Destroy("t-atlas-5", "atlas", "never joined", never_joined=True), ok=True),
    ]
    adopted = (record("t-atlas-99", NodeState.ORPHAN, provider=EC2),)
    return PassResult(
        plan,
        observation,
        results,
        errors=("provider ec2: boom",),
        failed_sources=("ec2",),
        adopted=adopted,
    )


def value(registry: ElasticRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_record_pass_sets_the_gauges_to_the_observation_and_counts_the_actions():
    registry = ElasticRegistry(make_site())
    record_pass(registry, busy_pass(), duration_s=1.5, now=1000.0)

    # the queue: pending runnable jobs only (not running, not held), by VO
    assert value(registry, "elastic_pending_jobs", vo="atlas") == 3
    assert value(registry, "elastic_pending_cores", vo="atlas") == 12
    assert value(registry, "elastic_pending_jobs", vo="cms") == 2
    assert value(registry, "elastic_pending_cores", vo="cms") == 16
    assert value(registry, "elastic_unplaceable_jobs", vo="cms") == 3
    # nodes by VO × provider × state, every state of a configured pair at zero at least
    nodes = "elastic_nodes"
    assert value(registry, nodes, vo="atlas", provider="libvirt", state="ready") == 1
    assert value(registry, nodes, vo="atlas", provider="ec2", state="ready") == 1
    assert value(registry, nodes, vo="atlas", provider="ec2", state="joining") == 1
    assert value(registry, nodes, vo="atlas", provider="libvirt", state="draining") == 1
    assert value(registry, nodes, vo="cms", provider="ec2", state="failed") == 1
    assert value(registry, nodes, vo="cms", provider="libvirt", state="orphan") == 0
    assert value(registry, "elastic_dark_nodes", vo="atlas", provider="ec2") == 1
    assert value(registry, "elastic_dark_nodes", vo="atlas", provider="libvirt") == 0
    assert value(registry, "elastic_backoffs_active", vo="atlas", provider="libvirt") == 1
    # spend: the hourly price of the live cloud nodes against each budget
    assert value(registry, "elastic_cloud_spend_dollars_per_hour", vo="atlas") == pytest.approx(0.4)
    assert value(registry, "elastic_cloud_spend_dollars_per_hour", vo="cms") == pytest.approx(0.34)
    assert value(registry, "elastic_cloud_budget_dollars_per_hour", vo="atlas") == 10.0
    assert value(registry, "elastic_site_cloud_spend_dollars_per_hour") == pytest.approx(0.74)
    assert value(registry, "elastic_site_cloud_budget_dollars_per_hour") == 4.0
    # the planner's short reasons, by cause
    assert value(registry, "elastic_short_nodes", vo="atlas", cause="vo_cloud_budget") == 2
    assert value(registry, "elastic_short_nodes", vo="atlas", cause="boot_budget") == 1
    # what it did
    assert value(registry, "elastic_boots_total", vo="atlas", provider="ec2") == 1
    assert value(registry, "elastic_boots_total", vo="atlas", provider="libvirt") == 0
    failures = "elastic_boot_failures_total"
    assert value(registry, failures, vo="atlas", provider="libvirt", reason="error") == 1
    assert value(registry, failures, vo="atlas", provider="ec2", reason="timeout") == 1
    assert value(registry, failures, vo="atlas", provider="ec2", reason="never_joined") == 1
    assert value(registry, "elastic_drains_total", vo="atlas", provider="libvirt") == 1
    destroys = "elastic_destroys_total"
    assert value(registry, destroys, vo="cms", provider="ec2", reason="failed") == 1
    assert value(registry, destroys, vo="atlas", provider="libvirt", reason="drained") == 1
    assert value(registry, destroys, vo="atlas", provider="ec2", reason="never_joined") == 1
    assert (
        value(registry, "elastic_action_failures_total", vo="atlas", provider="ec2", action="boot")
        == 1
    )
    assert value(registry, "elastic_orphans_adopted_total", vo="atlas", provider="ec2") == 1
    # the pass itself: degraded (EC2 unread, a boot failed), so no "last success"
    assert value(registry, "elastic_observation_errors_total", source="ec2") == 1
    assert value(registry, "elastic_observation_errors_total", source="lrm") == 0
    assert value(registry, "elastic_passes_total", result="degraded") == 1
    assert value(registry, "elastic_passes_total", result="ok") == 0
    assert value(registry, "elastic_pass_duration_seconds_count") == 1
    assert value(registry, "elastic_pass_duration_seconds_sum") == 1.5
    assert value(registry, "elastic_pass_duration_seconds_bucket", le="2.5") == 1
    assert value(registry, "elastic_pass_duration_seconds_bucket", le="1.0") == 0
    assert value(registry, "elastic_last_pass_timestamp_seconds") == 1000.0
    assert value(registry, "elastic_last_successful_pass_timestamp_seconds") == 0


def test_a_quiet_pass_is_ok_and_clears_what_the_last_one_showed():
    registry = ElasticRegistry(make_site())
    record_pass(registry, busy_pass(), duration_s=1.0, now=1000.0)
    record_pass(registry, PassResult(Plan(), Observation((), (), ())), duration_s=0.2, now=1060.0)

    assert value(registry, "elastic_passes_total", result="ok") == 1
    assert value(registry, "elastic_last_successful_pass_timestamp_seconds") == 1060.0
    assert value(registry, "elastic_pending_jobs", vo="atlas") == 0
    assert value(registry, "elastic_nodes", vo="cms", provider="ec2", state="failed") == 0
    assert value(registry, "elastic_short_nodes", vo="atlas", cause="vo_cloud_budget") is None
    assert value(registry, "elastic_boots_total", vo="atlas", provider="ec2") == 1  # counters stay
    assert value(registry, "elastic_pass_duration_seconds_count") == 2


def test_a_locked_or_failing_pass_is_counted_by_its_result():
    registry = ElasticRegistry(make_site())

    def locked() -> PassResult:
        raise PassLocked("another pass")

    def broken() -> PassResult:
        raise RuntimeError("bug")

    with pytest.raises(PassLocked):
        timed_pass(registry, locked, lambda: 5.0)
    with pytest.raises(RuntimeError):
        timed_pass(registry, broken, lambda: 5.0)
    timed_pass(registry, lambda: PassResult(Plan(), Observation((), (), ())), lambda: 7.0)

    assert value(registry, "elastic_passes_total", result="locked") == 1
    assert value(registry, "elastic_passes_total", result="error") == 1
    assert value(registry, "elastic_passes_total", result="ok") == 1
    assert value(registry, "elastic_pass_duration_seconds_count") == 1  # only a pass that ran
    assert value(registry, "elastic_last_successful_pass_timestamp_seconds") == 7.0


def read_textfile(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(path.read_text())
        for s in family.samples
    }


def test_the_textfile_adds_each_run_to_the_counters_of_the_last_and_replaces_the_gauges(
    tmp_path: Path,
):
    site = make_site()
    path = tmp_path / "textfile" / "elastic.prom"
    first = ElasticRegistry(site)  # one run-once process
    record_pass(first, busy_pass(), duration_s=1.5, now=1000.0)
    write_textfile(first, path)
    second = ElasticRegistry(site)  # the next cron run: a fresh process
    record_pass(second, PassResult(Plan(), Observation((), (), ())), duration_s=0.2, now=1060.0)
    write_textfile(second, path)

    samples = read_textfile(path)
    boots = ("elastic_boots_total", (("provider", "ec2"), ("vo", "atlas")))
    assert samples[boots] == 1  # carried over from the first run
    assert samples[("elastic_passes_total", (("result", "degraded"),))] == 1
    assert samples[("elastic_passes_total", (("result", "ok"),))] == 1
    assert samples[("elastic_pass_duration_seconds_count", ())] == 2
    assert samples[("elastic_pass_duration_seconds_sum", ())] == pytest.approx(1.7)
    assert samples[("elastic_pass_duration_seconds_bucket", (("le", "0.25"),))] == 1
    assert samples[("elastic_pass_duration_seconds_bucket", (("le", "+Inf"),))] == 2
    pending = ("elastic_pending_jobs", (("vo", "atlas"),))
    assert samples[pending] == 0  # a gauge is this run's value, not a sum
    assert samples[("elastic_last_successful_pass_timestamp_seconds", ())] == 1060.0
    # written atomically: no temporary file left beside it, and nothing named *_created
    assert sorted(p.name for p in path.parent.iterdir()) == ["elastic.prom", "elastic.prom.lock"]
    assert not any(name.endswith("_created") for name, _ in samples)


def test_a_locked_run_keeps_the_last_success_of_the_textfile(tmp_path: Path):
    path = tmp_path / "elastic.prom"
    first = ElasticRegistry(make_site())
    record_pass(first, PassResult(Plan(), Observation((), (), ())), duration_s=0.2, now=1060.0)
    write_textfile(first, path)
    locked = ElasticRegistry(make_site())
    locked.passes.labels("locked").inc()
    write_textfile(locked, path)

    samples = read_textfile(path)
    assert samples[("elastic_last_successful_pass_timestamp_seconds", ())] == 1060.0
    assert samples[("elastic_last_pass_timestamp_seconds", ())] == 1060.0
    assert samples[("elastic_passes_total", (("result", "locked"),))] == 1
    assert samples[("elastic_passes_total", (("result", "ok"),))] == 1


def test_a_series_only_the_last_textfile_has_is_kept(tmp_path: Path):
    path = tmp_path / "elastic.prom"
    path.write_text(
        "# TYPE elastic_boots_total counter\n"
        'elastic_boots_total{vo="gone",provider="ec2"} 7.0\n'
        "# TYPE elastic_pending_jobs gauge\n"
        'elastic_pending_jobs{vo="gone"} 4.0\n'
    )
    write_textfile(ElasticRegistry(make_site()), path)

    samples = read_textfile(path)
    assert samples[("elastic_boots_total", (("provider", "ec2"), ("vo", "gone")))] == 7
    assert ("elastic_pending_jobs", (("vo", "gone"),)) not in samples


def test_serve_metrics_answers_on_its_port():
    registry = ElasticRegistry(make_site())
    record_pass(registry, busy_pass(), duration_s=1.5, now=1000.0)
    server = serve_metrics(registry, "127.0.0.1:0")
    try:
        port = server.server_port
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'elastic_nodes{provider="ec2",state="failed",vo="cms"} 1.0' in text
    assert "elastic_pass_duration_seconds_count 1.0" in text
    assert "python_gc" not in text  # the dedicated registry, not the process-global one


def test_a_real_engine_pass_reports_what_it_booted_adopted_and_could_not_read(tmp_path: Path):
    from elastic.model import VMRef
    from tests.fakes import fake_providers
    from tests.worlds import Clock, replay_engine

    site = make_site(site={"name": "t", "state": str(tmp_path / "ledger.db")})
    clock = Clock()
    providers = fake_providers(site)
    job = {"id": "a", "project": "atlas", "cores": 4, "count": 6, "runtime_s": 100}
    engine = replay_engine(site, tmp_path, [job], providers, clock)
    registry = ElasticRegistry(site)
    timed_pass(registry, engine.run_pass, clock)  # 4 local boots, 2 on EC2

    local = providers[LIBVIRT]
    local.vms["t-atlas-09999"] = VMRef("t-atlas-09999", LIBVIRT, "hv1", "x", "atlas")
    local.sizes["t-atlas-09999"] = (4, 8000)
    providers[EC2].fail_inventory = True
    clock.now += 10
    timed_pass(registry, engine.run_pass, clock)

    assert value(registry, "elastic_boots_total", vo="atlas", provider="libvirt") == 4
    assert value(registry, "elastic_boots_total", vo="atlas", provider="ec2") == 2
    assert value(registry, "elastic_orphans_adopted_total", vo="atlas", provider="libvirt") == 1
    assert value(registry, "elastic_observation_errors_total", source="ec2") == 1
    assert value(registry, "elastic_observation_errors_total", source="libvirt") == 0
    assert value(registry, "elastic_passes_total", result="ok") == 1
    assert value(registry, "elastic_passes_total", result="degraded") == 1
    assert value(registry, "elastic_nodes", vo="atlas", provider="libvirt", state="orphan") == 1
    assert value(registry, "elastic_last_successful_pass_timestamp_seconds") == 1_000_000.0
