"""contrib/prometheus/elastic.rules.yml: valid for promtool, its alerts tested with
``promtool test rules``, and every metric it names one that elastic exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.contrib.exported import exported_names, metrics_in
from tests.integration.conftest import require

RULES = Path(__file__).resolve().parents[2] / "contrib" / "prometheus"

pytestmark = pytest.mark.prometheus


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    require(binary is not None, "promtool not found: run scripts/services/prometheus-up")
    assert binary is not None
    return subprocess.run(
        [binary, *args], cwd=RULES, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_checks_the_rules():
    done = promtool("check", "rules", "elastic.rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 6 rules found" in done.stdout


def test_promtool_tests_every_alert():
    done = promtool("test", "rules", "elastic.rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    tests = yaml.safe_load((RULES / "elastic.rules.test.yml").read_text())["tests"]
    tested = {t["alertname"] for case in tests for t in case["alert_rule_test"] if t["exp_alerts"]}
    rules = yaml.safe_load((RULES / "elastic.rules.yml").read_text())["groups"][0]["rules"]
    assert tested == {rule["alert"] for rule in rules}  # each alert shown firing at least once


def test_every_metric_the_rules_name_is_exported():
    exported = exported_names()
    rules = yaml.safe_load((RULES / "elastic.rules.yml").read_text())["groups"][0]["rules"]
    for rule in rules:
        named = metrics_in(rule["expr"])
        assert named, rule["alert"]
        assert named <= exported, (rule["alert"], named - exported)
