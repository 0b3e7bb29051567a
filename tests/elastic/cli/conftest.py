"""A small replay site in a temporary folder, and ``elastic`` run as a process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from elastic.ledger import Ledger

REPO = Path(__file__).resolve().parents[3]

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


@pytest.fixture
def ledger(site_file: Path) -> Ledger:
    """The ledger ``site_file`` names (``./var/elastic.db`` beside it)."""
    return Ledger.open(site_file.parent / "var" / "elastic.db")


@pytest.fixture
def embedded_site(tmp_path: Path) -> Path:
    """The README's embedded site (libvirt test driver, embedded moto), its ledger in
    ``tmp_path``."""
    text = (REPO / "site.yaml").read_text()
    text = text.replace("{site_dir}", str(REPO))
    text = text.replace("workload: workloads/", f"workload: {REPO}/workloads/")
    path = tmp_path / "site.yaml"
    path.write_text(text)
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
