"""The command line as an admin meets it: help, validate, plan, run-once, locks, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from elastic.cli import EXIT_CONFIG, EXIT_LOCKED, EXIT_NO_NODE, EXIT_OK, main
from elastic.ledger import Ledger

SITE = """\
site:
  name: clitest
  state: ./var/elastic.db
lrm:
  kind: replay
  workload: jobs.yaml
vos:
  - name: atlas
    match: {project: [atlas]}
    flavor: {cores: 4, memory_mb: 8192}
    context: {template: sge, vars: {qmaster: qmaster.example}}
"""


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    (tmp_path / "jobs.yaml").write_text("jobs:\n  - {id: a, project: atlas, cores: 2}\n")
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    return path


def elastic(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "elastic.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_help_lists_every_command_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "plan", "run-once", "daemon", "status", "nodes", "drain"):
        assert command in out
    assert "another pass is running" in out


def test_validate_reports_three_mistakes_with_lines(site_file, capsys):
    bad = SITE.replace("kind: replay", "kind: replay\n  speed: 3")
    bad = bad.replace("cores: 4", "cores: -1").replace("name: atlas", "name: Atlas!")
    site_file.write_text(bad)
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[0].startswith("site.yaml:6: lrm.speed: unknown key")
    assert any(e.startswith("site.yaml:9: vos[0].name: must match") for e in err)
    assert any(e.startswith("site.yaml:11: vos[0].flavor.cores: must be ≥ 1") for e in err)


def test_validate_accepts_a_good_file(site_file, capsys):
    assert main(["validate", str(site_file)]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


def test_validate_reports_a_template_variable_the_vo_lacks(site_file, capsys):
    site_file.write_text(SITE.replace("vars: {qmaster: qmaster.example}", "vars: {}"))
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert "'dict object' has no attribute 'qmaster'" in capsys.readouterr().err


def test_plan_json_reports_unmet_demand_without_acting(site_file, capsys):
    assert main(["--config", str(site_file), "plan", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["actions"] == []
    assert data["decisions"][0]["pending_jobs"] == 1
    assert "short" in data["decisions"][0]["note"]
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


def test_drain_of_an_unknown_node(site_file, capsys):
    assert main(["--config", str(site_file), "drain", "nope"]) == EXIT_NO_NODE
    assert "no live node nope" in capsys.readouterr().err


def test_nodes_and_status(site_file, capsys):
    assert main(["--config", str(site_file), "nodes"]) == EXIT_OK
    assert "no nodes" in capsys.readouterr().out
    assert main(["--config", str(site_file), "status", "--json"]) == EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["lrm_read"] is True and status["pending_by_vo"] == {"atlas": 1}


def test_missing_config_is_a_config_error(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "none.yaml"), "plan"]) == EXIT_CONFIG
    assert "cannot read" in capsys.readouterr().err
