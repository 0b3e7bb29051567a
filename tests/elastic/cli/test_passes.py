"""``plan``, ``run-once``, ``status``: a dry run acts on nothing, an overlapping pass
exits 3, and run-once prints each action once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

from elastic.cli import EXIT_LOCKED, EXIT_OK, main
from elastic.ledger import Ledger

from .conftest import elastic


def test_plan_json_reports_unmet_demand_without_acting(site_file, capsys):
    assert main(["--config", str(site_file), "plan", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["actions"] == []
    assert data["decisions"][0]["pending_jobs"] == 1
    (short,) = data["decisions"][0]["short"]
    assert short["count"] == 1 and short["cause"] and short["text"]
    assert Ledger.open(site_file.parent / "var" / "elastic.db").nodes() == []


def test_overlapping_run_once_exits_with_the_locked_code(site_file):
    cwd = site_file.parent
    assert elastic("run-once", cwd=cwd).returncode == EXIT_OK
    ledger_file = cwd / "var" / "elastic.db"
    before = ledger_file.read_bytes()
    holder = subprocess.Popen(  # a first pass, still running, holds the site lock
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import sys, time
            from filelock import FileLock
            with FileLock({str(ledger_file) + ".lock"!r}):
                print("locked", flush=True)
                time.sleep(30)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        second = elastic("run-once", cwd=cwd)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == EXIT_LOCKED
    assert "another pass is running" in second.stderr
    assert ledger_file.read_bytes() == before  # the refused pass wrote nothing
    assert Ledger.open(ledger_file).open_intents() == []
    assert elastic("run-once", cwd=cwd).returncode == EXIT_OK  # lock released


@pytest.mark.libvirt
@pytest.mark.ec2
def test_run_once_prints_each_action_once(embedded_site):
    """The table shows each boot with its reason; the log does not repeat it (neither as
    the planned action nor as the action done), nor the VOs' decision lines. What the
    table does not show, the providers' VM ids, is still logged."""
    done = elastic("-c", str(embedded_site), "run-once", cwd=embedded_site.parent)
    assert done.returncode == EXIT_OK, done.stderr
    rows = re.findall(r"^boot +(demo-\w+-\d+) .*$", done.stdout, re.MULTILINE)
    assert len(rows) == 8
    lines = (done.stdout + done.stderr).splitlines()
    for node_id in rows:
        with_reason = [line for line in lines if node_id in line and "pending jobs" in line]
        assert len(with_reason) == 1, with_reason
    assert not [line for line in done.stderr.splitlines() if "decision" in line]
    assert "booted demo-atlas-00001 on hv1" in done.stderr  # the log keeps what it adds
