"""``elastic completion SHELL``: the shell code that completes elastic's commands.

Layer: entry point. Completion is argcomplete's: ``main`` answers the shell's
``_ARGCOMPLETE`` requests from the real parser, so every command and option completes as
``--help`` lists it, with nothing to keep in step. This prints the shell side, to be
sourced (``eval "$(elastic completion bash)"`` in ``~/.bashrc``) or installed as
``/etc/bash_completion.d/elastic``.
"""

from __future__ import annotations

import argparse

from argcomplete.shell_integration import shellcode

from elastic.cli.common import EXIT_OK, Subparsers

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")


def cmd_completion(args: argparse.Namespace) -> int:
    print(shellcode(["elastic"], shell=args.shell), end="")
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print the shell code that completes elastic's commands and options",
        description="Print the shell code that completes elastic's commands and options: "
        'eval "$(elastic completion bash)" in ~/.bashrc, or save it as '
        "/etc/bash_completion.d/elastic.",
    )
    parser.add_argument("shell", choices=SHELLS, help="the shell")
    parser.set_defaults(func=cmd_completion)
