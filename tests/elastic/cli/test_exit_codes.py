"""Every user mistake exits 2 with one clear line on stderr and no traceback; 1 is kept
for bugs (README: exit codes). Each command of ``COMMANDS`` is run as a process, as an
admin runs it, with a wrong argument and with a site file that is not there, and the
commands that name a VO or a scenario with one that does not exist (issue 11)."""

from __future__ import annotations

import argparse

import pytest

from elastic.cli import EXIT_CONFIG, build_parser

from .conftest import elastic

#: an argument every command takes (the rest of its argv), so the mistake is the one
#: under test and not a missing positional
VALID_ARGS = {
    "drain": ["node-1"],
    "render-context": ["atlas"],
    "slurm-resume": ["cloud[1-2]"],
    "slurm-suspend": ["cloud[1-2]"],
    "simulate": ["--workload", "step"],
    "reserve": ["atlas", "--nodes", "1", "--hours", "1"],
    "cancel": ["r-1"],
    "completion": ["bash"],
}
#: ``demo`` runs the embedded site whatever ``--config`` says; ``init`` writes one;
#: ``completion`` prints shell code and reads none
NO_SITE_FILE = {"demo", "init", "completion"}


def command_names() -> list[str]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def assert_one_line_exit_2(done, *expected: str) -> None:
    assert done.returncode == EXIT_CONFIG, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    for text in expected:
        assert text in lines[0], lines[0]


def test_the_list_covers_the_commands_a_user_has():
    assert {"validate", "plan", "run-once", "render-context", "simulate", "demo"} <= set(
        command_names()
    )


@pytest.mark.parametrize("command", command_names())
def test_a_wrong_argument(command, tmp_path):
    done = elastic(command, *VALID_ARGS.get(command, []), "--no-such-option", cwd=tmp_path)
    assert_one_line_exit_2(done, "unrecognized arguments: --no-such-option", "--help")


@pytest.mark.parametrize("command", sorted(set(command_names()) - NO_SITE_FILE))
def test_a_site_file_that_is_not_there(command, tmp_path):
    done = elastic(command, *VALID_ARGS.get(command, []), "-c", "missing.yaml", cwd=tmp_path)
    assert_one_line_exit_2(done, "missing.yaml: cannot read: No such file or directory")


@pytest.mark.parametrize("command", ["render-context", "explain"])
def test_an_unknown_vo(command, site_file):
    done = elastic(command, "nosuchvo", "-c", str(site_file), cwd=site_file.parent)
    assert_one_line_exit_2(done, "nosuchvo", "atlas")


def test_a_misspelt_scenario(site_file):
    done = elastic("simulate", "--workload", "stepp", "-c", str(site_file), cwd=site_file.parent)
    assert_one_line_exit_2(done, "--workload stepp: no such file, nor a scenario (", "step")


def test_slurm_power_on_a_site_of_another_lrm(site_file):
    done = elastic("slurm-resume", "cloud1", "-c", str(site_file), cwd=site_file.parent)
    assert_one_line_exit_2(done, "lrm.kind is replay; this needs slurm")


def test_a_value_of_the_wrong_kind(site_file):
    done = elastic("events", "--since", "yesterday", "-c", str(site_file), cwd=site_file.parent)
    assert_one_line_exit_2(done, "elastic events: argument --since", "90s, 15m, 1h, 2d")
