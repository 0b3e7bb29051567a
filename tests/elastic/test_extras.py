"""A slim install (issue 13: "optional extras so a production install is slim"): with no
extra installed, elastic still starts, validates and renders; a site or command that needs
one stops with one line naming it (exit 2) before anything is opened or run. The extras'
modules are refused by tests/elastic/slim_elastic.py, in a process of its own."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from elastic.cli import EXIT_BUG, EXIT_CONFIG, EXIT_OK, main
from elastic.extras import EXTRAS, Extra, MissingExtra, require

from .cli.conftest import SITE

REPO = Path(__file__).resolve().parents[2]
SLIM = REPO / "tests" / "elastic" / "slim_elastic.py"


def slim(*args: str, cwd: Path, allow: str = "") -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(SLIM), *(["--allow", allow] if allow else []), *args]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    (tmp_path / "jobs.yaml").write_text("jobs: []\n")
    (tmp_path / "site.yaml").write_text(SITE)
    return tmp_path / "site.yaml"


@pytest.fixture
def embedded(tmp_path: Path) -> Path:
    text = (REPO / "site.yaml").read_text().replace("{site_dir}", str(REPO))
    text = text.replace("workload: workloads/", f"workload: {REPO}/workloads/")
    (tmp_path / "site.yaml").write_text(text)
    return tmp_path / "site.yaml"


def test_the_core_starts_validates_and_renders_without_any_extra(embedded):
    cwd = embedded.parent
    assert slim("--help", cwd=cwd).returncode == EXIT_OK
    done = slim("validate", str(embedded), cwd=cwd)
    assert done.returncode == EXIT_OK, done.stderr
    done = slim("-c", str(embedded), "render-context", "atlas", cwd=cwd)
    assert done.returncode == EXIT_OK, done.stderr
    assert done.stdout.startswith("#cloud-config\n")


@pytest.mark.parametrize(
    ("allow", "line"),
    [
        (
            "",
            "elastic: libvirt (local.hosts) needs the libvirt extra: "
            "pip install 'elastic[libvirt]'",
        ),
        ("libvirt,pycdlib", "elastic: EC2 needs the ec2 extra: pip install 'elastic[ec2]'"),
        (
            "libvirt,pycdlib,boto3,botocore",
            "elastic: the embedded EC2 (ec2.endpoint_url: embedded) needs the demo extra: "
            "pip install 'elastic[demo]'",
        ),
    ],
)
def test_each_missing_extra_is_one_line_before_anything_runs(embedded, allow, line):
    done = slim("-q", "-c", str(embedded), "run-once", cwd=embedded.parent, allow=allow)
    assert (done.returncode, done.stderr.splitlines()) == (EXIT_CONFIG, [line])
    assert not (embedded.parent / "var").exists()  # no ledger opened, no lock taken


def test_an_htcondor_site_names_the_htcondor_extra(site_file):
    site_file.write_text(SITE.replace("kind: replay\n  workload: jobs.yaml", "kind: htcondor"))
    done = slim("-q", "-c", str(site_file), "plan", cwd=site_file.parent)
    assert done.stderr.splitlines() == [
        "elastic: HTCondor needs the htcondor extra: pip install 'elastic[htcondor]'"
    ]
    assert done.returncode == EXIT_CONFIG


def test_require_passes_when_the_extra_is_there_and_names_it_when_not(monkeypatch):
    require("ec2")  # installed in the project's .venv
    monkeypatch.setitem(EXTRAS, "ec2", Extra("ec2", ("no_such_module",), "EC2"))
    with pytest.raises(
        MissingExtra, match=r"EC2 needs the ec2 extra: pip install 'elastic\[ec2\]'"
    ):
        require("ec2")


def test_an_import_error_of_another_module_stays_a_bug(site_file, monkeypatch, capsys, caplog):
    """A command's own import of an extra's module is the same one line; any other missing
    module is a bug (exit 1, its traceback in the log), never hidden as a usage error."""

    def failing(name: str):
        def command(args: argparse.Namespace) -> int:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        return command

    monkeypatch.setattr("elastic.cli.validate.cmd_validate", failing("matplotlib.pyplot"))
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        "elastic: the simulator's plot needs the sim extra: pip install 'elastic[sim]'"
    ]
    monkeypatch.setattr("elastic.cli.validate.cmd_validate", failing("elastic_nothing"))
    assert main(["validate", str(site_file)]) == EXIT_BUG
    assert "No module named 'elastic_nothing'" in caplog.text
