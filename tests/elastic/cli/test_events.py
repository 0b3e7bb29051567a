"""``elastic events``: the ledger's history, newest last, filtered by node, VO and time,
as text or JSON, and followed as it is written."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from elastic.cli import EXIT_CONFIG, EXIT_OK, main
from elastic.cli import nodes as nodes_cli
from elastic.ledger import Ledger
from elastic.model import NodeState
from tests.factories import record

NOW = time.time()


def add_node(ledger: Ledger, node_id: str, vo: str, at: float) -> None:
    row = record(node_id, NodeState.REQUESTED, vo=vo, location="us-east-1", at=at)
    ledger.add(row, f"requested for {vo}")


@pytest.fixture
def history(ledger: Ledger) -> Ledger:
    """Two VOs' nodes; a boot error three hours ago, a drain ten minutes ago."""
    add_node(ledger, "s-atlas-1", "atlas", NOW - 4 * 3600)
    add_node(ledger, "s-cms-1", "cms", NOW - 4 * 3600 + 1)
    ledger.set_state("s-cms-1", NodeState.FAILED, NOW - 3 * 3600, "ProviderError: no capacity")
    ledger.event(NOW - 1800, "pass", "8 action(s), 0 failed")
    ledger.set_state("s-atlas-1", NodeState.DRAINING, NOW - 600, "idle for 900 s")
    return ledger


def events_json(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict[str, object]]:
    assert main([*argv, "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list)
    return data


def test_events_newest_last_as_text_at_80_columns(site_file, history, capsys):
    history.event(NOW, "failed", "ProviderError: " + "capacity refused; " * 12, "s-cms-1")
    assert main(["events", "-c", str(site_file)]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert lines[0].endswith("s-atlas-1  node: requested for atlas")
    assert lines[0].startswith(datetime.fromtimestamp(NOW - 4 * 3600, UTC).strftime("%Y-%m-%dT"))
    assert "  -  pass: 8 action(s), 0 failed" in "\n".join(lines)
    start = next(
        i for i, line in enumerate(lines) if "failed: ProviderError: capacity refused" in line
    )
    assert lines[start + 1 :] and all(line.startswith("    ") for line in lines[start + 1 :])


def test_events_json_is_a_list_of_objects(site_file, history, capsys):
    data = events_json(capsys, "events", "-c", str(site_file))
    assert [e["kind"] for e in data] == ["node", "node", "failed", "pass", "draining"]
    assert set(data[0]) == {"id", "at", "time", "node", "kind", "message"}
    assert data[2]["node"] == "s-cms-1" and data[2]["message"] == "ProviderError: no capacity"
    assert data[3]["node"] is None


def test_events_of_one_node_one_vo_since_a_time_and_the_newest_few(site_file, history, capsys):
    site = ["-c", str(site_file)]
    by_node = events_json(capsys, "events", *site, "--node", "s-cms-1")
    assert [e["kind"] for e in by_node] == ["node", "failed"]
    by_vo = events_json(capsys, "events", *site, "--vo", "atlas")
    assert [(e["node"], e["kind"]) for e in by_vo] == [
        ("s-atlas-1", "node"),
        ("s-atlas-1", "draining"),
    ]
    recent = events_json(capsys, "events", *site, "--since", "1h")
    assert [e["kind"] for e in recent] == ["pass", "draining"]
    assert [e["kind"] for e in events_json(capsys, "events", *site, "--since", "15m")] == [
        "draining"
    ]
    assert len(events_json(capsys, "events", *site, "--since", "90s")) == 0
    assert len(events_json(capsys, "events", *site, "--since", "2d")) == 5
    iso = datetime.fromtimestamp(NOW - 2 * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert [e["kind"] for e in events_json(capsys, "events", *site, "--since", iso)] == [
        "pass",
        "draining",
    ]
    newest = events_json(capsys, "events", *site, "--limit", "2")
    assert [e["kind"] for e in newest] == ["pass", "draining"]
    both = events_json(capsys, "events", *site, "--vo", "cms", "--since", "1h")
    assert both == []


def test_a_since_that_is_no_time_is_a_usage_error(site_file, capsys):
    with pytest.raises(SystemExit) as done:
        main(["events", "-c", str(site_file), "--since", "yesterday"])
    assert done.value.code == EXIT_CONFIG
    assert "90s, 15m, 1h, 2d" in capsys.readouterr().err


def test_follow_prints_the_events_written_meanwhile(site_file, history, capsys, monkeypatch):
    """Three reads; between them another process writes events (one of them for a node
    the filter leaves out)."""
    writes = iter(
        [
            lambda: (
                history.event(time.time(), "booting", "VM i-0abc at us-east-1", "s-atlas-1"),
                history.event(time.time(), "failed", "not mine", "s-cms-1"),
            ),
            lambda: history.event(time.time(), "joining", "registered with the LRM", "s-atlas-1"),
        ]
    )
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        next(writes, lambda: None)()

    monkeypatch.setattr(nodes_cli.time, "sleep", sleep)
    argv = ["events", "-c", str(site_file), "--vo", "atlas", "--follow", "--polls", "3"]
    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    kinds = [line.split("  ")[2].split(":")[0] for line in out]
    assert kinds == ["node", "draining", "booting", "joining"]
    assert "not mine" not in "\n".join(out)
    assert slept == [nodes_cli.FOLLOW_INTERVAL_S] * 3


def test_follow_json_is_one_object_a_line(site_file, history, capsys, monkeypatch):
    monkeypatch.setattr(
        nodes_cli.time, "sleep", lambda _: history.event(time.time(), "pass", "0 action(s)")
    )
    argv = ["events", "-c", str(site_file), "--since", "15m", "--follow", "--json", "--polls", "2"]
    assert main(argv) == EXIT_OK
    objects = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["kind"] for o in objects] == ["draining", "pass", "pass"]
