"""contrib/grafana/elastic.json: every expression names metrics elastic exports, the panels
the issue asks for are there, and a real Prometheus parses every expression."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.contrib.exported import exported_names, metrics_in
from tests.integration.conftest import require, service_env

DASHBOARD = Path(__file__).resolve().parents[2] / "contrib" / "grafana" / "elastic.json"
#: what Grafana puts in for the dashboard's variables before it sends a query
VARIABLES = {"$instance": ".*", "$vo": ".*", "$__rate_interval": "5m"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def expressions() -> list[tuple[str, str]]:
    """(panel title, expression) for every panel target and every query variable."""
    board = dashboard()
    found = [(p["title"], t["expr"]) for p in board["panels"] for t in p["targets"]]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            found.append((f"${variable['name']}", variable["query"]["query"]))
    return found


def test_every_expression_names_only_metrics_elastic_exports():
    exported = exported_names()
    for title, expression in expressions():
        named = metrics_in(expression)
        assert named, (title, expression)
        assert named <= exported, (title, named - exported)


def test_the_panels_show_queue_nodes_local_vs_cloud_spend_boot_failures_and_pass_duration():
    shown = set().union(*(metrics_in(expression) for _, expression in expressions()))
    assert {"elastic_pending_jobs", "elastic_pending_cores", "elastic_nodes"} <= shown
    assert {
        "elastic_cloud_spend_dollars_per_hour",
        "elastic_cloud_budget_dollars_per_hour",
    } <= shown
    assert {"elastic_boot_failures_total", "elastic_pass_duration_seconds_bucket"} <= shown
    local_vs_cloud = [e for _, e in expressions() if "by (provider)" in e]
    assert local_vs_cloud and all("elastic_nodes" in e for e in local_vs_cloud)
    ids = [p["id"] for p in dashboard()["panels"]]
    assert len(ids) == len(set(ids))  # Grafana keys panels by id


@pytest.mark.prometheus
def test_a_real_prometheus_parses_every_expression():
    url = service_env("prometheus")["PROMETHEUS_URL"]
    for title, expression in expressions():
        query = expression
        for name, value in VARIABLES.items():
            query = query.replace(name, value)
        if query.startswith("label_values("):  # Grafana's own function: ask for its series
            query = query.removeprefix("label_values(").rsplit(",", 1)[0]
        address = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(address, timeout=5) as answer:
                status = json.load(answer)["status"]
        except urllib.error.HTTPError as exc:
            pytest.fail(f"{title}: {query}: {exc.read().decode()}")
        except OSError as exc:
            require(False, f"Prometheus does not answer at {url}: {exc}")
        assert status == "success", (title, query)
