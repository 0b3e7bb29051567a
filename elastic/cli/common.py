"""What every command module shares: the exit codes, the site, the options every
command takes and the help format.

Layer: entry point (imports the configuration only). The options ``--config``/``-c``,
``-v``, ``-q`` and ``--log-format`` are defined once here and added both to the top-level
parser and to every subcommand, so they work before or after the command; given in both places, the
one after the command wins (a subcommand leaves an option it was not given unset).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, NoReturn

from elastic.config import Site, load_site

EXIT_OK, EXIT_BUG, EXIT_CONFIG, EXIT_LOCKED, EXIT_DEGRADED, EXIT_NO_NODE = 0, 1, 2, 3, 4, 5

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


class OneLineParser(argparse.ArgumentParser):
    """An argument mistake is one line on stderr (exit 2), as every other user mistake
    is, not argparse's usage block: the line names the command and its ``--help``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_CONFIG, f"{self.prog}: {message} (see {self.prog} --help)\n")


def site_of(args: argparse.Namespace) -> Site:
    """The site file the command line names (``main`` has resolved ``--config``)."""
    return load_site(args.config)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Help with each option's default, unless it has none worth printing (unset, a
    flag that is off) or its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_common_options(parser: argparse.ArgumentParser, *, top_level: bool) -> None:
    """``--config``/``-c``, ``-v``, ``-q``, ``--log-format``. On a subcommand their defaults
    are left unset (SUPPRESS), so an option given only before the command keeps its value."""

    def unset_below(value: Any) -> Any:
        return value if top_level else argparse.SUPPRESS

    parser.add_argument(
        "-c",
        "--config",
        default=unset_below(None),
        metavar="FILE",
        help="site.yaml to use (default: ./site.yaml, then /etc/elastic/site.yaml)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=unset_below(0),
        help="more log (-vv: debug)",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=unset_below(False),
        help="only warnings and errors",
    )
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        default=unset_below("text"),
        help="log lines on stderr: text, or json (one object a line: time, level, logger, "
        "message, and vo/node/action/reason for a decision); default text",
    )


class CommandsAction(Subparsers):
    """Subcommands that all get a description (their help line unless they give one),
    the defaults in their help, and the common options after the command."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        kwargs.setdefault("description", kwargs.get("help"))
        kwargs.setdefault("formatter_class", HelpFormatter)
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
        add_common_options(parser, top_level=False)
        return parser
