"""A real SGE advance reservation (qrsub) is honoured ahead of its start (issue 14).

SGE grants an advance reservation only from queue instances that exist; elastic reads it
(``qrstat``), maps it to the VO of its owner by the site's match rules, sizes it in that
VO's workers (its granted slots over the flavor's cores) and, inside the lead time, plans
the worker boots for it before any queue demand. A dry run: nothing is booted or written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import yaml

from elastic.ledger import Ledger

pytestmark = pytest.mark.sge


def test_an_sge_advance_reservation_gets_its_workers_planned_ahead(tmp_path, sge_env):
    site = {
        "site": {"name": "ars", "state": str(tmp_path / "ledger.db")},
        "lrm": {"kind": "sge", "options": {"sge_cell": sge_env["SGE_CELL"]}},
        "vos": [
            {
                "name": "ars",
                "match": {"user": ["root"]},
                "flavor": {"cores": 2, "memory_mb": 2000},
                "image": {"libvirt": "ars.qcow2"},
                "context": {"template": "sge", "vars": {"qmaster": sge_env["SGE_HOST"]}},
            }
        ],
        "local": {
            "hosts": [{"name": "hv1", "uri": "test:///default", "cores": 16, "memory_mb": 32000}]
        },
    }
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    env = {**os.environ, **sge_env}
    start = time.strftime("%m%d%H%M", time.localtime(time.time() + 600))  # inside the 660 s lead
    made = subprocess.run(
        ["qrsub", "-a", start, "-d", "1800", "-pe", "smp", "4", "-N", "ars"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    ar_id = made.stdout.split()[3]  # "Your advance reservation 7 has been granted"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "elastic.cli", "-c", str(path), "plan", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        planned = json.loads(done.stdout)
        boots = [a for a in planned["actions"] if a["kind"] == "boot"]
        assert [b["reservation"] for b in boots] == ["sge:ars"] * 2  # 4 slots / 2 cores
        assert all("reservation ars of ars" in b["reason"] for b in boots)
        (ars,) = planned["decisions"]
        assert ars["reserved"] == 2 and ars["wanted"] == 0
        assert Ledger.open(tmp_path / "ledger.db").reservations() == []  # a dry run
    finally:
        subprocess.run(["qrdel", ar_id], env=env, capture_output=True, check=False)
