"""``elastic validate``: check a site file and its templates without touching anything.

Layer: entry point (configuration and contextualization only; no ledger, LRM or provider).
"""

from __future__ import annotations

import argparse
import logging
import sys

from elastic.cli.common import EXIT_CONFIG, EXIT_OK, Subparsers
from elastic.config import load_site

log = logging.getLogger(__name__)


def cmd_validate(args: argparse.Namespace) -> int:
    site = load_site(args.file or args.config)
    problems: list[str] = []
    try:
        from elastic.contextualize import check_site_templates

        problems = check_site_templates(site)
    except ImportError:
        log.debug("contextualization not available; templates not checked")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    print(f"{site.source}: valid ({len(site.vos)} VO(s), {len(site.local.hosts)} local host(s))")
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a site.yaml and its templates; exit 2 listing every problem",
        description="Check a site file (every key, every limit) and the cloud-init templates "
        "it names. Every problem is printed as file:line: key.path: message; the exit code "
        "is 2 if there is any.",
    )
    parser.add_argument("file", nargs="?", help="file to check (default: --config)")
    parser.set_defaults(func=cmd_validate)
