"""The command line's frame: help, options before or after the command, every command
present, exit codes."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from elastic.cli import COMMANDS, EXIT_CONFIG, EXIT_OK, build_parser, main
from elastic.cli.common import HelpFormatter

from .conftest import REPO

EVERY_COMMAND = (
    "validate", "plan", "run-once", "daemon", "status", "nodes", "drain", "events",
    "demo", "render-context", "slurm-resume", "slurm-suspend", "simulate",
)  # fmt: skip


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def test_help_lists_every_command_and_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for command in ("validate", "plan", "run-once", "daemon", "status", "nodes", "drain"):
        assert command in out
    assert "another pass is running" in out


def test_every_command_is_registered_through_the_commands_tuple():
    assert set(EVERY_COMMAND) <= set(subcommands())
    assert len(COMMANDS) >= 7


def test_a_command_whose_module_fails_to_import_fails_elastic_loudly():
    """Not a command silently missing from --help: the import error itself."""
    code = "import sys; sys.modules['elastic.demo'] = None; import elastic.cli"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    assert "import of elastic.demo halted" in done.stderr


def test_missing_config_is_a_config_error(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "none.yaml"), "plan"]) == EXIT_CONFIG
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{site}", "plan"],
        ["plan", "--config", "{site}"],
        ["-c", "{site}", "plan"],
        ["plan", "-c", "{site}"],
        ["-c", "{missing}", "plan", "-c", "{site}"],  # after the command wins
    ],
)
def test_the_site_file_is_taken_before_or_after_the_command(argv, site_file, tmp_path, capsys):
    names = {"site": str(site_file), "missing": str(tmp_path / "none.yaml")}
    assert main([a.format(**names) for a in argv] + ["--json"]) == EXIT_OK
    assert '"actions": []' in capsys.readouterr().out


def test_the_site_file_after_the_command_wins_when_it_is_the_bad_one(site_file, tmp_path):
    argv = ["-c", str(site_file), "plan", "-c", str(tmp_path / "none.yaml")]
    assert main(argv) == EXIT_CONFIG


def test_verbosity_before_or_after_the_command():
    parse = build_parser().parse_args
    assert parse(["-q", "nodes"]).quiet is True
    assert parse(["nodes", "-q"]).quiet is True
    assert parse(["nodes"]).quiet is False
    assert parse(["-v", "nodes"]).verbose == 1
    assert parse(["nodes", "-vv"]).verbose == 2
    assert parse(["-vv", "nodes", "-v"]).verbose == 1  # after the command wins
    assert parse(["-c", "a.yaml", "nodes"]).config == "a.yaml"


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_has_a_description_and_shows_its_defaults(command):
    parser = subcommands()[command]
    assert parser.description and len(parser.description) > 20
    assert parser.formatter_class is HelpFormatter
    assert parser.description.split()[0] in parser.format_help()
    assert "--config" in parser.format_help()  # the common options, after the command too
    formatter = HelpFormatter(command)
    for action in parser._actions:
        worth_showing = action.default not in (None, False, argparse.SUPPRESS)
        if worth_showing and action.help not in (None, argparse.SUPPRESS):
            assert "default" in (formatter._get_help_string(action) or ""), action.dest


def test_defaults_are_printed_in_a_commands_help(capsys):
    with pytest.raises(SystemExit):
        main(["events", "--help"])
    out = capsys.readouterr().out
    assert "(default: 50)" in out
    assert "--polls" not in out  # the tests' bound on --follow stays out of sight
