"""The daemon: passes at the interval, one at a time, a failing pass does not stop it,
and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from elastic.daemon import run_daemon


def test_runs_the_requested_number_of_passes_and_survives_a_failure():
    calls: list[float] = []

    def one_pass() -> None:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("LRM exploded")

    assert run_daemon(one_pass, 0.2, max_passes=4) == 4
    assert len(calls) == 4


def test_passes_never_overlap():
    running = threading.Event()
    overlaps: list[bool] = []

    def slow_pass() -> None:
        overlaps.append(running.is_set())
        running.set()
        time.sleep(0.5)  # longer than the interval
        running.clear()

    run_daemon(slow_pass, 0.1, max_passes=3)
    assert overlaps == [False, False, False]


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path):
    site = tmp_path / "site.yaml"
    (tmp_path / "jobs.yaml").write_text("jobs: []\n")
    site.write_text(
        "site: {name: d}\nlrm: {kind: replay, workload: jobs.yaml}\n"
        "vos: [{name: a, match: {user: [x]}, flavor: {cores: 1, memory_mb: 512}}]\n"
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "elastic.cli", "--config", str(site), "daemon", "--interval", "0.5"],
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(3)
    os.kill(daemon.pid, signal.SIGTERM)
    _, err = daemon.communicate(timeout=20)
    assert daemon.returncode == 0, err
    assert "signal SIGTERM" in err and "daemon stopped after" in err
