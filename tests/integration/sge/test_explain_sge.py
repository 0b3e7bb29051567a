"""``elastic explain`` on a real Son of Grid Engine (issue 12): a VO at its cloud cap is
told so, with the cap and what holds it, from the real qstat/qhost reading; nothing is
booted (a dry run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from elastic.ledger import Ledger
from tests.integration.sge.test_sge_real import NOWHERE

pytestmark = [pytest.mark.sge, pytest.mark.ec2]


def test_explain_names_the_cloud_cap_of_a_vo_on_real_sge(tmp_path, moto, sge_env, drmaa):
    site = {
        "site": {"name": "xpl", "state": str(tmp_path / "ledger.db")},
        "lrm": {"kind": "sge", "options": {"sge_cell": sge_env["SGE_CELL"]}},
        "vos": [
            {
                "name": "xpl",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"ec2": "ami-1e749f67"},
                "cloud": {"allowed": True, "max_nodes": 1, "max_hourly_cost": 5.0},
                "context": {"template": "sge", "vars": {"qmaster": sge_env["SGE_HOST"]}},
            }
        ],
        "local": {"hosts": []},
        "ec2": {
            "endpoint_url": moto,
            "region": "us-east-1",
            "instance_types": {"xpl": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2},
            "max_instances": 4,  # the default, 0, would bind first (explain says so)
            "max_hourly_cost": 5.0,
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    drmaa.submit("/bin/sleep", "60", native=f"-P atlas -pe smp 4 {NOWHERE}", count=3)
    env = {**os.environ, **sge_env}
    done = subprocess.run(
        [sys.executable, "-m", "elastic.cli", "explain", "xpl", "-c", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (xpl,) = json.loads(done.stdout)["explanations"]
    decision = xpl["decision"]
    assert decision["pending_jobs"] >= 3 and decision["boots_cloud"] == 1
    (short,) = decision["short"]
    assert short["cause"] == "vo_cloud_max_nodes" and (short["limit"], short["held"]) == (1, 1)
    assert short["count"] == decision["wanted"] - 1
    assert short["also"]["cause"] == "no_local_image"
    text = subprocess.run(
        [sys.executable, "-m", "elastic.cli", "-c", str(path), "explain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    assert "short: VO xpl cloud.max_nodes 1 reached (1 in use)" in text
    assert Ledger.open(tmp_path / "ledger.db").nodes() == []
