"""``--log-format json`` as a log shipper reads it, from real runs of ``elastic`` on the
embedded site; and ``-q`` keeps third-party warnings (APScheduler's skipped runs) out."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import elastic

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYS = {"time", "level", "logger", "message"}


def json_lines(stderr: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line, or it fails
    for line in lines:
        assert set(line) >= KEYS, line
        assert ISO_UTC.match(str(line["time"])), line
    return lines


def test_run_once_logs_one_json_object_a_line(embedded_site: Path):
    done = elastic(
        "run-once", "--log-format", "json", "-c", str(embedded_site), cwd=embedded_site.parent
    )
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stderr)
    booted = [line for line in lines if line["logger"] == "elastic.providers.libvirt"]
    assert booted and all(line["level"] == "INFO" for line in booted)
    assert "pending" in done.stdout  # the plan table stays text, on stdout


@pytest.mark.slow
def test_the_daemon_logs_each_decision_with_its_vo_node_action_reason(embedded_site: Path):
    done = elastic(
        "--log-format",
        "json",
        "demo",
        "--passes",
        "1",
        "-c",
        str(embedded_site),
        cwd=embedded_site.parent,
    )
    assert done.returncode == 0, done.stderr
    lines = json_lines(done.stderr)
    decisions = [line for line in lines if line["logger"] == "elastic.decisions"]
    assert {line["vo"] for line in decisions if str(line["message"]).startswith("decision")} == {
        "atlas",
        "cms",
    }
    plans = [line for line in decisions if str(line["message"]).startswith("plan boot")]
    assert plans
    for line in plans:  # atlas for its queue, cms for the demo's reservation
        assert line["action"] == "boot" and line["vo"] in {"atlas", "cms"}
        assert str(line["node"]).startswith(f"demo-{line['vo']}-") and line["reason"]
    assert {line["vo"] for line in plans} == {"atlas", "cms"}


@pytest.mark.slow
def test_quiet_demo_prints_no_apscheduler_line(embedded_site: Path):
    """Passes take longer than a 0.2 s interval, so APScheduler skips runs (by design:
    one pass at a time): with -q its warnings must not reach the admin."""
    done = elastic(
        "-q",
        "demo",
        "--passes",
        "3",
        "--interval",
        "0.2",
        "-c",
        str(embedded_site),
        cwd=embedded_site.parent,
    )
    assert done.returncode == 0, done.stderr
    assert "apscheduler" not in done.stderr
    assert "pass  3:" in done.stdout
