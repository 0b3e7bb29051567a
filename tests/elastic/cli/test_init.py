"""``elastic init``: with a PATH of stub LRM commands (small shell scripts that print a
version), each LRM is found and the starter site it writes passes ``elastic validate``;
with nothing found it says so; it never overwrites without --force, and with no terminal
it asks nothing. libvirt is the real libvirt-python: its test driver for a hypervisor
found, a socket that is not there for none."""

from __future__ import annotations

import builtins
import io
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from elastic.cli import EXIT_CONFIG, EXIT_OK, main

STUBS = {
    "sge": ("qconf", "SGE 8.1.9"),
    "slurm": ("sinfo", "slurm 23.11.4"),
    "htcondor": ("condor_status", "$CondorVersion: 23.0.3 2024-01-10 BuildID: 705 $"),
    "pbs": ("pbsnodes", "pbs_version = 22.05.11"),
}
NO_LIBVIRT = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"


def stub(folder: Path, name: str, prints: str) -> None:
    folder.mkdir(exist_ok=True)
    script = folder / name
    lines = "".join(f"echo '{line}'\n" for line in prints.splitlines())  # builtins only
    script.write_text(f"#!/bin/sh\n{lines}")
    script.chmod(0o755)


@pytest.fixture
def no_terminal(monkeypatch):
    """stdin is not a terminal; a question asked anyway fails the test."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))

    def no_questions(prompt: str = "") -> str:
        raise AssertionError(f"asked {prompt!r} with no terminal")

    monkeypatch.setattr(builtins, "input", no_questions)


@pytest.fixture
def path_of(tmp_path: Path, monkeypatch):
    """PATH is only the stub folder: what init finds is what the test put there."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def init(*args: str) -> int:
    return main(["init", *args])


def load(path: Path) -> dict:
    return YAML(typ="safe").load(path.read_text())


@pytest.mark.parametrize("kind", sorted(STUBS))
def test_each_lrm_found_gives_a_site_validate_accepts(kind, tmp_path, path_of, no_terminal, capsys):
    command, version = STUBS[kind]
    stub(path_of, command, version)
    out = tmp_path / "etc" / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", "test:///default") == EXIT_OK
    printed = capsys.readouterr().out
    assert f"found {kind}: {path_of / command} ({version})" in printed
    assert "found libvirt test:///default: 16 cores, 3072 MiB" in printed
    site = load(out)
    assert site["lrm"]["kind"] == kind
    assert site["vos"][0]["context"]["template"] == kind
    [host] = site["local"]["hosts"]
    assert (host["uri"], host["cores"], host["memory_mb"]) == ("test:///default", 16, 3072)
    if kind == "pbs":
        assert site["lrm"]["options"]["flavor"] == "openpbs"  # pbs_version = ...
    text = out.read_text()
    assert f"found as {path_of / command} ({version})" in text and "CHANGE" in text
    assert main(["validate", str(out)]) == EXIT_OK, capsys.readouterr().err
    assert "valid (1 VO(s), 1 local host(s)" in capsys.readouterr().out


def test_torque_is_told_from_openpbs_by_its_version_line(tmp_path, path_of, no_terminal):
    stub(path_of, "pbsnodes", "Version: 6.1.3\nCommit: 0a2b")
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT) == EXIT_OK
    assert load(out)["lrm"]["options"]["flavor"] == "torque"


def test_nothing_found_needs_lrm_and_writes_nothing(tmp_path, path_of, no_terminal, capsys):
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert "no LRM command on PATH (qconf, sinfo, condor_status, pbsnodes); give --lrm" in line
    assert not out.exists()


def test_nothing_found_with_lrm_given_is_written_and_valid(tmp_path, path_of, no_terminal, capsys):
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--lrm", "slurm", "--libvirt-uri", NO_LIBVIRT) == EXIT_OK
    printed = capsys.readouterr().out
    assert "no LRM command on PATH; written for --lrm slurm" in printed
    assert "no local hypervisor: qemu+unix:///system?socket=/nonexistent" in printed
    text = out.read_text()
    assert "sinfo NOT on PATH" in text and "# no local hypervisor listed: qemu+unix" in text
    assert load(out)["local"]["hosts"] == []
    assert main(["validate", str(out)]) == EXIT_OK, capsys.readouterr().err


def test_several_found_with_no_terminal_asks_for_lrm(tmp_path, path_of, no_terminal, capsys):
    stub(path_of, "qconf", "SGE 8.1.9")
    stub(path_of, "sinfo", "slurm 23.11.4")
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT) == EXIT_CONFIG
    assert "found sge and slurm; pick one with --lrm" in capsys.readouterr().err
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT, "--lrm", "sge") == EXIT_OK
    assert load(out)["lrm"]["kind"] == "sge"


def test_an_existing_file_is_kept_without_force(tmp_path, path_of, no_terminal, capsys):
    stub(path_of, "sinfo", "slurm 23.11.4")
    out = tmp_path / "site.yaml"
    out.write_text("# the admin's own\n")
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"elastic init: {out} exists; --force to overwrite it"
    assert out.read_text() == "# the admin's own\n"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT, "--force") == EXIT_OK
    assert load(out)["lrm"]["kind"] == "slurm"


def test_a_name_elastic_does_not_take_is_refused(tmp_path, path_of, no_terminal, capsys):
    stub(path_of, "sinfo", "slurm 23.11.4")
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT, "--vo", "My VO") == EXIT_CONFIG
    assert "'My VO' is not a name elastic takes" in capsys.readouterr().err
    assert not out.exists()


def test_on_a_terminal_it_asks_what_it_cannot_tell(tmp_path, path_of, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["nope", "htcondor", "grid", ""])  # a wrong LRM is asked again
    asked: list[str] = []
    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(builtins, "input", lambda q="": asked.append(q) or next(answers))
    out = tmp_path / "site.yaml"
    assert init("-o", str(out), "--libvirt-uri", NO_LIBVIRT) == EXIT_OK
    assert [q.split(" [")[0] for q in asked] == [
        "LRM (sge|slurm|htcondor|pbs)",
        "LRM (sge|slurm|htcondor|pbs)",
        "site name",
        "first VO's name",
    ]
    site = load(out)
    assert (site["lrm"]["kind"], site["site"]["name"], site["vos"][0]["name"]) == (
        "htcondor",
        "grid",
        "myvo",
    )
