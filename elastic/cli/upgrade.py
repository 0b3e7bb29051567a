"""``elastic upgrade``: bring the site's ledger to this elastic's schema, and say how.

Layer: entry point (``elastic.migrate`` does the work). Every start does the same
upgrade on its own (``Ledger.open``); this command is for the admin who wants it done
under their eye after installing a new elastic, before the daemon starts again, and to
see where the backup copy went.
"""

from __future__ import annotations

import argparse

from elastic.cli.common import EXIT_OK, Subparsers, site_of


def cmd_upgrade(args: argparse.Namespace) -> int:
    from elastic.migrate import upgrade_at

    site = site_of(args)
    done = upgrade_at(site.state_url())
    for line in done.lines():
        print(line)
    if done.changed and not done.fresh and done.backup is None:
        print(
            "no backup copy made: the ledger is on a database server (keep the server's "
            "own backups); its migrations ran in one transaction"
        )
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "upgrade",
        help="bring the ledger (site.state) to this elastic's schema, with a backup first",
        description="Upgrade the site's ledger to the newest schema: a SQLite file is "
        "copied first to <file>.bak-<UTC time>; a ledger from before migrations is brought "
        "to the baseline in place and stamped. Prints what it did. Every pass's start does "
        "the same on its own; a ledger written by a newer elastic is refused (exit 2).",
    )
    p.set_defaults(func=cmd_upgrade)
