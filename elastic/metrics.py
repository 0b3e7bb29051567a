"""Prometheus metrics of the passes: what a pass saw, decided, did and how long it took.

Layer: record (imports the engine's result types, the model, the config and
prometheus-client; nothing imports it but the CLI). Every figure comes from the
``PassResult`` the engine already returns, in one place (``record_pass``), so the engine
stays free of instrumentation calls and a metric can never disagree with the plan table.
The metrics live on their own registry (``ElasticRegistry``), not prometheus-client's
global one, so tests and two sites in one process never mix. The daemon serves them over
HTTP (``serve_metrics``); ``run-once`` writes them to a node_exporter textfile
(``write_textfile``), adding the previous file's counters so they keep counting across the
processes cron starts. docs/metrics.md lists every metric.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from filelock import FileLock
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    make_wsgi_app,
    write_to_textfile,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from elastic.config import Site
from elastic.engine import PassLocked, PassResult
from elastic.model import EXISTING_STATES, Boot, Destroy, NodeState, ProviderKind, WorkerNode

#: a pass takes from well under a second (an idle site) to the bound of minutes
PASS_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: why a boot failed: the provider raised, the call had no answer by the act deadline,
#: or the VM never joined the LRM by its boot deadline (destroyed, as the backoff counts it)
BOOT_FAILURES = ("error", "timeout", "never_joined")
#: why a node was destroyed: the ledger state that made it destroyable
DESTROY_REASONS = ("drained", "failed", "orphan", "retiring", "never_joined")
RESULTS = ("ok", "degraded", "locked", "error")
#: gauges a textfile keeps from run to run (the later value wins)
CARRIED_STAMPS = (
    "elastic_last_pass_timestamp_seconds",
    "elastic_last_successful_pass_timestamp_seconds",
)


class ElasticRegistry(CollectorRegistry):
    """A registry holding elastic's metrics, each series a site names created at zero."""

    def __init__(self, site: Site) -> None:
        super().__init__(auto_describe=True)
        # no *_created series: a textfile's counters must add up across runs
        disable_created_metrics()  # type: ignore[no-untyped-call]
        self.site = site
        vo, by = ["vo"], ["vo", "provider"]
        self.pending_jobs = self._gauge("pending_jobs", "Pending runnable jobs", vo)
        self.pending_cores = self._gauge("pending_cores", "Cores of pending runnable jobs", vo)
        self.unplaceable_jobs = self._gauge(
            "unplaceable_jobs", "Pending jobs no VO flavor or limit can ever serve", vo
        )
        self.nodes = self._gauge("nodes", "Worker nodes by ledger state", [*by, "state"])
        self.dark_nodes = self._gauge(
            "dark_nodes", "Ready or draining nodes the LRM shows down", by
        )
        self.short_nodes = self._gauge(
            "short_nodes",
            "Wanted nodes not booted this pass, by the binding cause",
            ["vo", "cause"],
        )
        self.backoffs_active = self._gauge("backoffs_active", "Boot targets in backoff", by)
        self.spend = self._gauge(
            "cloud_spend_dollars_per_hour", "Hourly price of the VO's live cloud nodes", vo
        )
        self.budget = self._gauge(
            "cloud_budget_dollars_per_hour", "The VO's cloud.max_hourly_cost", vo
        )
        self.site_spend = self._gauge(
            "site_cloud_spend_dollars_per_hour", "Hourly price of all live cloud nodes", []
        )
        self.site_budget = self._gauge(
            "site_cloud_budget_dollars_per_hour", "The site's ec2.max_hourly_cost", []
        )
        self.boots = self._counter("boots", "Boots the provider accepted", by)
        self.boot_failures = self._counter("boot_failures", "Boots that failed", [*by, "reason"])
        self.drains = self._counter("drains", "Nodes drained in the LRM", by)
        self.destroys = self._counter("destroys", "Nodes destroyed", [*by, "reason"])
        self.action_failures = self._counter(
            "action_failures", "Actions that failed or had no answer", [*by, "action"]
        )
        self.orphans = self._counter("orphans_adopted", "Tagged VMs adopted as orphans", by)
        self.observation_errors = self._counter(
            "observation_errors", "Passes that could not read a source", ["source"]
        )
        self.passes = self._counter("passes", "Passes by result", ["result"])
        self.pass_duration = Histogram(
            "elastic_pass_duration_seconds",
            "Wall time of a pass that ran",
            registry=self,
            buckets=PASS_BUCKETS,
        )
        self.last_pass = self._gauge("last_pass_timestamp_seconds", "End of the last pass", [])
        self.last_success = self._gauge(
            "last_successful_pass_timestamp_seconds", "End of the last pass not degraded", []
        )
        self._zero()

    def _gauge(self, name: str, doc: str, labels: list[str]) -> Gauge:
        return Gauge(f"elastic_{name}", doc, labels, registry=self)

    def _counter(self, name: str, doc: str, labels: list[str]) -> Counter:
        return Counter(f"elastic_{name}", doc, labels, registry=self)

    def providers(self) -> list[str]:
        kinds = [ProviderKind.LIBVIRT] if self.site.local.hosts else []
        return [k.value for k in (*kinds, *([ProviderKind.EC2] if self.site.ec2 else []))]

    def _zero(self) -> None:
        """Every series the site names exists from the start: an increase() from nothing
        to one is seen, and a panel shows 0 rather than no data."""
        for result in RESULTS:
            self.passes.labels(result)
        for source in ["lrm", *self.providers()]:
            self.observation_errors.labels(source)
        for vo in self.site.vos:
            for provider in self.providers():
                for metric in (self.boots, self.drains, self.orphans):
                    metric.labels(vo.name, provider)
                for reason in BOOT_FAILURES:
                    self.boot_failures.labels(vo.name, provider, reason)
                for reason in DESTROY_REASONS:
                    self.destroys.labels(vo.name, provider, reason)
                for action in ("boot", "drain", "destroy", "probe"):
                    self.action_failures.labels(vo.name, provider, action)


def record_pass(
    registry: ElasticRegistry, result: PassResult, duration_s: float, now: float
) -> None:
    """Set the gauges to what this pass observed and decided, and count what it did.

    Node, queue, spend and backoff gauges describe the observation the pass planned on
    (reconciled with the ledger): a node this pass booted shows from the next pass on.
    """
    _record_observation(registry, result)
    _record_plan(registry, result)
    _record_actions(registry, result)
    for source in result.failed_sources:
        registry.observation_errors.labels(source).inc()
    outcome = "degraded" if result.degraded else "ok"
    registry.passes.labels(outcome).inc()
    registry.pass_duration.observe(duration_s)
    registry.last_pass.set(now)
    if outcome == "ok":
        registry.last_success.set(now)


def _record_observation(registry: ElasticRegistry, result: PassResult) -> None:
    site, observation = registry.site, result.observation
    vos = [vo.name for vo in site.vos]
    jobs: Tally[str] = Tally()
    cores: Tally[str] = Tally()
    for job in observation.jobs:
        if job.runnable and not job.running:
            jobs[job.vo or "none"] += job.count
            cores[job.vo or "none"] += job.count * job.cores
    _set(registry.pending_jobs, {(v,): jobs[v] for v in {*vos, *jobs}})
    _set(registry.pending_cores, {(v,): cores[v] for v in {*vos, *cores}})
    keys = [(v, p) for v in vos for p in registry.providers()]
    nodes: Tally[tuple[str, ...]] = Tally(
        {(v, p, s.value): 0 for v, p in keys for s in EXISTING_STATES}
    )
    dark: Tally[tuple[str, ...]] = Tally({key: 0 for key in keys})
    for node in observation.nodes:
        nodes[(node.vo, node.provider.value, node.state.value)] += 1
        if node.dark_since is not None:
            dark[(node.vo, node.provider.value)] += 1
    _set(registry.nodes, nodes)
    _set(registry.dark_nodes, dark)
    backoffs: Tally[tuple[str, ...]] = Tally({key: 0 for key in keys})
    for backoff in observation.backoffs:
        backoffs[(backoff.vo, backoff.provider.value)] += 1
    _set(registry.backoffs_active, backoffs)
    cloud = [n for n in observation.nodes if n.provider is ProviderKind.EC2]
    spend: dict[tuple[str, ...], float] = {(v,): 0.0 for v in vos}
    for node in cloud:
        spend[(node.vo,)] = spend.get((node.vo,), 0.0) + node.hourly_cost
    _set(registry.spend, spend)
    _set(registry.budget, {(vo.name,): vo.cloud.max_hourly_cost for vo in site.vos})
    registry.site_spend.set(sum(n.hourly_cost for n in cloud))
    registry.site_budget.set(site.ec2.max_hourly_cost if site.ec2 else 0.0)


def _record_plan(registry: ElasticRegistry, result: PassResult) -> None:
    short: Tally[tuple[str, ...]] = Tally()
    for decision in result.plan.decisions:
        for item in decision.short:
            short[(decision.vo, item.reason.cause.value)] += item.count
    _set(registry.short_nodes, short)
    unplaceable: Tally[tuple[str, ...]] = Tally({(vo.name,): 0 for vo in registry.site.vos})
    for job in result.plan.unplaceable:
        unplaceable[(job.vo or "none",)] += job.count
    _set(registry.unplaceable_jobs, unplaceable)


def _record_actions(registry: ElasticRegistry, result: PassResult) -> None:
    nodes = {n.id: n for n in result.observation.nodes}
    for done in result.results:
        action = done.action
        node = nodes.get(action.node_id)
        provider = action.provider.value if isinstance(action, Boot) else _provider(node)
        by = (action.vo, provider)
        if not done.ok:
            registry.action_failures.labels(*by, action.kind).inc()
            if isinstance(action, Boot):
                registry.boot_failures.labels(*by, "timeout" if done.abandoned else "error").inc()
        elif isinstance(action, Boot):
            registry.boots.labels(*by).inc()
        elif isinstance(action, Destroy):
            reason = _destroy_reason(action, node)
            registry.destroys.labels(*by, reason).inc()
            if action.never_joined:
                registry.boot_failures.labels(*by, "never_joined").inc()
        elif action.kind == "drain":
            registry.drains.labels(*by).inc()
    for orphan in result.adopted:
        registry.orphans.labels(orphan.vo, orphan.provider.value).inc()


def _provider(node: WorkerNode | None) -> str:
    return node.provider.value if node is not None else "unknown"


def _destroy_reason(action: Destroy, node: WorkerNode | None) -> str:
    """The state that made the node destroyable; a node drained this very pass (the
    follow-up destroy) is still READY in the observation."""
    if action.never_joined:
        return "never_joined"
    if node is None or node.state in {NodeState.DRAINING, NodeState.READY}:
        return "drained"
    return node.state.value


def _set(gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
    """The gauge holds these series only: a VO or state gone from the site goes away."""
    gauge.clear()
    for labels, value in values.items():
        gauge.labels(*labels).set(value)


def timed_pass(
    registry: ElasticRegistry, run: Callable[[], PassResult], clock: Callable[[], float]
) -> PassResult:
    """Run a pass and record it: its result, a pass locked out, or one that raised."""
    start = time.monotonic()
    try:
        result = run()
    except PassLocked:
        registry.passes.labels("locked").inc()
        raise
    except Exception:
        registry.passes.labels("error").inc()
        raise
    record_pass(registry, result, time.monotonic() - start, clock())
    return result


@contextmanager
def textfile_metrics(site: Site) -> Iterator[ElasticRegistry]:
    """A registry for one ``run-once``, written to ``metrics.textfile`` (a path relative to
    the site file's folder) when the pass ends, however it ends, when the site names one."""
    registry = ElasticRegistry(site)
    try:
        yield registry
    finally:
        if site.metrics.textfile:
            write_textfile(registry, site.resolve(site.metrics.textfile))


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """A scrape every few seconds is not worth a log line."""


def serve_metrics(registry: CollectorRegistry, listen: str) -> WSGIServer:
    """Serve ``/metrics`` on ``host:port`` in a daemon thread; ``shutdown()`` stops it."""
    host, _, port = listen.rpartition(":")
    server = make_server(host, int(port), make_wsgi_app(registry), handler_class=_QuietHandler)
    Thread(target=server.serve_forever, name="elastic-metrics", daemon=True).start()
    return server


def write_textfile(registry: CollectorRegistry, path: Path) -> None:
    """Write the metrics to ``path`` atomically (node_exporter's textfile collector), the
    counters and the histogram added to those of the file written by the last run, so
    each cron pass adds to them. A lock beside the file keeps two runs from adding to the
    same previous file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=30):
        previous = path.read_text() if path.exists() else ""
        carried = _Families(_added(registry.collect(), previous))
        merged = CollectorRegistry(auto_describe=True)
        merged.register(carried)
        write_to_textfile(str(path), merged)


class _Families:
    """A collector of families already made (the merged metrics of ``write_textfile``)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self.families)


def _added(current: Iterable[Metric], previous_text: str) -> list[Metric]:
    """The current families, each counter and histogram sample plus the previous file's
    (a series only the previous file has is kept as it was), and the last-pass time stamps
    the later of the two: a run that was locked out or failed did not undo the last success."""
    before: dict[tuple[str, tuple[tuple[str, str], ...]], Sample] = {}
    for family in text_string_to_metric_families(previous_text):
        if family.type in {"counter", "histogram"} or family.name in CARRIED_STAMPS:
            for sample in family.samples:
                before[(sample.name, tuple(sorted(sample.labels.items())))] = sample
    families = []
    for family in current:
        carried = family.type in {"counter", "histogram"}
        if not carried and family.name not in CARRIED_STAMPS:
            families.append(family)
            continue
        merged = Metric(family.name, family.documentation, family.type, family.unit)
        seen = set()
        for sample in family.samples:
            key = (sample.name, tuple(sorted(sample.labels.items())))
            seen.add(key)
            old = before.get(key)
            was = old.value if old is not None else 0.0
            value = sample.value + was if carried else max(sample.value, was)
            merged.samples.append(sample._replace(value=value))
        for key, sample in before.items():
            if key not in seen and carried and _belongs(sample.name, family):
                merged.samples.append(sample)
        families.append(merged)
    return families


def _belongs(sample_name: str, family: Metric) -> bool:
    suffixes = ("_total",) if family.type == "counter" else ("_bucket", "_sum", "_count")
    return any(sample_name == family.name + suffix for suffix in suffixes)
