"""``elastic``: the command line a site admin runs, from cron or by hand.

Layer: entry point (argument parsing, exit codes, printing). One module per group of
commands, each with an ``add_parser(subparsers)``; ``COMMANDS`` lists them all, so a
command whose module cannot be imported fails ``elastic`` loudly instead of vanishing.
``--config``/``-c``, ``-v``, ``-q`` and ``--log-format`` go before or after the command.
Exit codes:

  0  done; the pass (or command) completed and every action succeeded
  1  unexpected internal error (a bug: please report it with the log)
  2  usage error (one line, no traceback: a wrong argument, an unknown VO or scenario, a
     missing file), or site.yaml is invalid (each problem printed as file:line: key: message)
  3  another pass is running for this site (cron overlap); nothing was done
  4  the pass ran but degraded: an LRM or provider could not be read, or an action failed
  5  the node named on the command line is not in the ledger
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable

import argcomplete

from elastic import __version__
from elastic.cli import explain, init, nodes, passes, reserve, upgrade, validate
from elastic.cli.common import (
    EXIT_BUG,
    EXIT_CONFIG,
    EXIT_DEGRADED,
    EXIT_LOCKED,
    EXIT_NO_NODE,
    EXIT_OK,
    CommandsAction,
    OneLineParser,
    Subparsers,
    add_common_options,
)
from elastic.cli.completion import add_parser as add_completion
from elastic.config import ConfigError, find_site_file
from elastic.contextualize import add_parser as add_render_context
from elastic.demo import add_parser as add_demo
from elastic.engine import PassLocked
from elastic.extras import MissingExtra, missing_extra
from elastic.logging_setup import configure_logging
from elastic.sim.cli import add_parser as add_simulate
from elastic.slurm_power import add_parser as add_slurm_power

__all__ = [
    "COMMANDS",
    "EXIT_BUG",
    "EXIT_CONFIG",
    "EXIT_DEGRADED",
    "EXIT_LOCKED",
    "EXIT_NO_NODE",
    "EXIT_OK",
    "build_parser",
    "main",
]

#: Every command group, in the order ``elastic --help`` lists them. A new command is a
#: module with ``add_parser(subparsers)`` (e.g. ``elastic/cli/explain.py``) added here.
COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    init.add_parser,  # init
    validate.add_parser,  # validate
    passes.add_parser,  # plan, run-once, daemon, status
    nodes.add_parser,  # nodes, drain, events
    explain.add_parser,  # explain
    reserve.add_parser,  # reserve, reservations, cancel
    upgrade.add_parser,  # upgrade
    add_demo,  # demo
    add_render_context,  # render-context
    add_slurm_power,  # slurm-resume, slurm-suspend
    add_simulate,  # simulate
    add_completion,  # completion
)

log = logging.getLogger("elastic")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = OneLineParser(
        prog="elastic",
        description="Elastic virtual clusters for batch sites: observe the LRM queue, "
        "boot VO worker VMs on local hypervisors first and EC2 after, retire idle ones.",
        epilog=__doc__.split("Exit codes:", 1)[1].join(["Exit codes:", ""]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"elastic {__version__}")
    add_common_options(parser, top_level=True)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", action=CommandsAction
    )
    for add_parser in COMMANDS:
        add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if argv is None:  # the shell asks for completions (elastic completion): answer, exit
        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet, args.log_format)
    args.config = str(find_site_file(args.config))
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    except SystemExit as exc:  # a command refuses its input: raise SystemExit("message")
        if not isinstance(exc.code, str):
            raise
        print(exc.code, file=sys.stderr)
        return EXIT_CONFIG
    except PassLocked as exc:
        print(f"elastic: {exc}; this pass exits without acting", file=sys.stderr)
        return EXIT_LOCKED
    except MissingExtra as exc:  # a slim install without what the site needs
        print(exc, file=sys.stderr)
        return EXIT_CONFIG
    except ModuleNotFoundError as exc:
        extra = missing_extra(exc)
        if extra is None:
            log.exception("unexpected error")
            return EXIT_BUG
        print(extra, file=sys.stderr)
        return EXIT_CONFIG
    except Exception:
        log.exception("unexpected error")
        return EXIT_BUG
    return code


if __name__ == "__main__":
    sys.exit(main())
