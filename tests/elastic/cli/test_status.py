"""``elastic status`` through the command line: a replay site before and after a pass
(the last pass's time and result come from the ledger's marks), an LRM that cannot be
read ("queue unknown: ...", exit 4, never "queue empty"), ``--watch`` frames, and every
line within 80 columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

from elastic.cli import EXIT_DEGRADED, EXIT_OK, main
from elastic.ledger import Ledger
from elastic.model import NodeState, ProviderKind
from tests.factories import record

JOBS = """\
jobs:
  - {id: a, project: atlas, cores: 2}
  - {id: b, project: atlas, cores: 4, count: 3}
"""
SLURM_SITE = """\
site: {name: dark, state: ./var/elastic.db}
lrm: {kind: slurm}
vos:
  - name: atlas
    match: {account: [atlas]}
    flavor: {cores: 4, memory_mb: 8192}
"""


def lines_of(text: str) -> list[str]:
    assert all(len(line) <= 80 for line in text.splitlines()), text
    return text.splitlines()


def test_a_replay_site_before_and_after_a_pass(site_file: Path, ledger: Ledger, capsys):
    (site_file.parent / "jobs.yaml").write_text(JOBS)
    args = ["status", "-c", str(site_file)]
    assert main(args) == EXIT_OK
    before = lines_of(capsys.readouterr().out)
    assert before[0].startswith("elastic status: site clitest at ")
    assert before[1] == "last pass: none recorded in the ledger (no run-once or daemon pass yet)"
    [atlas] = [line for line in before if line.startswith("atlas ")]
    assert atlas.split()[:3] == ["atlas", "4", "14"]  # 4 jobs, 2 + 3 x 4 cores
    assert "no nodes" in before
    assert main(["run-once", "-c", str(site_file)]) == EXIT_OK
    capsys.readouterr()
    ledger.add(
        record("clitest-atlas-9", NodeState.BOOTING, provider=ProviderKind.LIBVIRT, at=1.0),
        "requested",
    )
    assert main(args) == EXIT_OK
    after = lines_of(capsys.readouterr().out)
    assert re.fullmatch(
        r"last pass: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\): ok, 0 action\(s\), 0 failed",
        after[1],
    ), after[1]
    [nodes] = [line for line in after if line.startswith("atlas ") and "libvirt" in line]
    assert nodes.split() == ["atlas", "libvirt", "1", "1", "booting"]
    assert main([*args, "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["last_pass"]["degraded"] is False and data["queue_unknown"] is None
    assert data["queue"][0] == {
        "vo": "atlas",
        "pending": 4,
        "cores": 14,
        "not_runnable": 0,
        "oldest_wait_s": data["queue"][0]["oldest_wait_s"],
    }


def test_an_unreadable_lrm_is_queue_unknown(tmp_path: Path, monkeypatch, capsys):
    site = tmp_path / "site.yaml"
    site.write_text(SLURM_SITE)
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # no squeue, no sinfo
    assert main(["status", "-c", str(site)]) == EXIT_DEGRADED
    out = lines_of(capsys.readouterr().out)
    [unknown] = [line for line in out if line.startswith("queue unknown: ")]
    assert "LRM slurm" in unknown and "cannot start" in unknown
    assert not any("queue empty" in line for line in out)
    assert main(["status", "-c", str(site), "--json"]) == EXIT_DEGRADED
    data = json.loads(capsys.readouterr().out)
    assert data["lrm_read"] is False and data["queue_unknown"].startswith("LRM slurm")


def test_watch_redraws_each_frame_afresh(site_file: Path, capsys):
    jobs = site_file.parent / "jobs.yaml"
    assert main(["status", "-c", str(site_file), "--watch", "0.01", "--count", "3"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("elastic status: site clitest") == 3
    assert out.count("(every 0.01 s; Ctrl-C to stop)") == 3
    assert "\x1b[2J" not in out  # not a terminal: frames follow each other, no escapes
    jobs.write_text("jobs: []\n")
    assert main(["status", "-c", str(site_file), "--watch", "0.01", "--count", "1"]) == EXIT_OK
    assert "queue empty: no pending job" in capsys.readouterr().out


def test_watch_on_a_terminal_redraws_in_place(site_file: Path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert main(["status", "-c", str(site_file), "--watch", "0.01", "--count", "2"]) == EXIT_OK
    frames = capsys.readouterr().out.split("\x1b[H\x1b[2J")
    assert frames[0] == "" and len(frames) == 3
    assert all(f.startswith("elastic status: site clitest") for f in frames[1:])
