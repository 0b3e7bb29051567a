"""contrib/systemd, contrib/cron and contrib/logrotate: each checked by the tool that reads
it (systemd-analyze verify, logrotate on a real log), and each holding what the issue asks
(a dedicated user, ProtectSystem=strict, its state writable, no new privileges, restart on
failure; a pass a minute; rotation)."""

from __future__ import annotations

import getpass
import grp
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.elastic.cli.conftest import SITE

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
UNIT = CONTRIB / "systemd" / "elastic.service"
CRON = CONTRIB / "cron" / "elastic"
LOGROTATE = CONTRIB / "logrotate" / "elastic"
ELASTIC = Path(sys.executable).parent / "elastic"


def unit_settings() -> dict[str, str]:
    settings = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


def test_the_unit_runs_the_daemon_as_its_own_user_in_a_read_only_system():
    settings = unit_settings()
    assert settings["Type"] == "simple"
    assert settings["User"] == "elastic" and settings["Group"] == "elastic"
    assert settings["ExecStart"] == "/usr/bin/elastic daemon -c /etc/elastic/site.yaml"
    assert settings["ProtectSystem"] == "strict"
    assert settings["ReadWritePaths"] == "/var/lib/elastic"
    assert settings["StateDirectory"] == "elastic"
    assert settings["NoNewPrivileges"] == "yes"
    assert settings["Restart"] == "on-failure"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_verifies_the_unit(tmp_path):
    """``verify`` also wants ExecStart's program to exist: the copy runs this install's."""
    unit = tmp_path / "elastic.service"
    unit.write_text(UNIT.read_text().replace("/usr/bin/elastic", str(ELASTIC)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # an unknown key or a bad value is only a warning to systemd: none may be printed
    assert (done.returncode, done.stderr) == (0, ""), done.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_analyze_would_catch_a_mistake(tmp_path):
    """The check above can fail: a misspelt value in the same unit is reported."""
    unit = tmp_path / "elastic.service"
    text = UNIT.read_text().replace("/usr/bin/elastic", str(ELASTIC))
    unit.write_text(text.replace("ProtectSystem=strict", "ProtectSystem=strcit"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert "ProtectSystem" in done.stderr or "protect system" in done.stderr


def cron_entries() -> list[list[str]]:
    lines = [x for x in CRON.read_text().splitlines() if x.strip() and not x.startswith("#")]
    return [x.split(None, 6) for x in lines if "=" not in x.split(None, 1)[0]]


def test_the_cron_line_runs_one_quiet_pass_a_minute_as_elastic(tmp_path):
    """Its command, with this install's elastic and a site of the test's, is a pass."""
    ((*when, user, command),) = cron_entries()
    assert when == ["*"] * 5
    assert user == "elastic"
    argv = shlex.split(command)
    redirects = [a for a in argv if a.startswith((">", "2>"))]
    assert redirects == [">>/var/log/elastic/elastic.log", "2>&1"]
    argv = [a for a in argv if a not in redirects]
    assert argv == ["/usr/bin/elastic", "-q", "run-once", "-c", "/etc/elastic/site.yaml"]
    (tmp_path / "jobs.yaml").write_text("jobs:\n  - {id: a, project: atlas, cores: 2}\n")
    (tmp_path / "site.yaml").write_text(SITE)
    argv = [str(ELASTIC), *argv[1:-1], str(tmp_path / "site.yaml")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var" / "elastic.db").exists()


@pytest.mark.skipif(shutil.which("logrotate") is None, reason="no logrotate here (apt: logrotate)")
def test_logrotate_rotates_the_cron_log(tmp_path):
    """The real logrotate, forced, on a copy for a log folder and owner of the test's."""
    logs = tmp_path / "log"
    logs.mkdir()
    (logs / "elastic.log").write_text("a pass\n")
    me, group = getpass.getuser(), grp.getgrgid(os.getgid()).gr_name
    text = LOGROTATE.read_text().replace("/var/log/elastic", str(logs))
    config = tmp_path / "elastic"
    config.write_text(text.replace("elastic elastic", f"{me} {group}"))
    done = subprocess.run(
        ["logrotate", "--force", "--state", str(tmp_path / "state"), str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert (logs / "elastic.log.1").read_text() == "a pass\n"  # delaycompress: not yet gz
    assert (logs / "elastic.log").read_text() == ""  # created anew for the next pass
    assert oct((logs / "elastic.log").stat().st_mode & 0o777) == "0o640"
