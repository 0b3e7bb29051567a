"""``elastic simulate`` as a user runs it: table, targets, JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

from elastic.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_simulate_prints_the_table_and_writes_json_and_png(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "simulate",
            "--site",
            str(REPO / "benchmarks/site-bench.yaml"),
            "--workload",
            "step",
            "--hours",
            "3",
            "--policy",
            "clues",
            "--spot-interruptions-per-hour",
            "2",
            "--out",
            str(out),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0
    rows = [line.split("|")[1].strip() for line in printed.splitlines() if line.startswith("| ")]
    assert rows[1:] == ["elastic", "clues"]
    assert max(len(line) for line in printed.splitlines() if not line.startswith("wrote")) <= 100
    assert "AWRT: average weighted response time" in printed.replace("\n", " ")
    assert "bsld: mean bounded slowdown" in printed.replace("\n", " ")
    assert "<10min: VMs that lived under 10 minutes" in printed.replace("\n", " ")
    assert "jobs left out (no worker count of their VO holds them): 0" in printed
    assert "spot interruptions: elastic" in printed
    assert "target MET" in printed or "target MISSED" in printed
    result = json.loads(out.with_suffix(".json").read_text())
    assert set(result["metrics"]) == {"elastic", "clues"}
    assert result["metrics"]["elastic"]["interrupted_vms"] > 0
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simulate_says_so_when_every_job_is_left_out(tmp_path, capsys):
    text = (REPO / "benchmarks/site-bench.yaml").read_text()
    text = text.replace("    max_nodes: 100000\n", "    max_nodes: 1\n")
    text = text.replace("../workloads/demo.yaml", str(REPO / "workloads/demo.yaml"))
    site = tmp_path / "site.yaml"
    site.write_text(text)
    code = main(
        [
            "simulate",
            "--site",
            str(site),
            "--workload",
            str(REPO / "tests/fixtures/swf/gridsim_LANL-O2K_excerpt.swf"),
            "--out",
            str(tmp_path / "run"),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 1  # the excerpt asks 16 cores and up: 2 workers or more, 1 allowed
    assert "10 job(s) left out" in printed and "nothing to simulate" in printed
    assert not (tmp_path / "run.json").exists()
