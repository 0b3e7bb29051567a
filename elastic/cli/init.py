"""``elastic init``: write a commented starter site.yaml from what this machine has.

Layer: entry point (finding and writing through ``elastic.site_init``). On a terminal it
asks what it cannot tell (which LRM, when none or several are found; the site's and the
first VO's names); with no terminal (a provisioning script, CI) it asks nothing and the
flags give the answers. It never overwrites a file without ``--force``.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
from pathlib import Path

from elastic.cli.common import EXIT_OK, Subparsers
from elastic.config import NAME_PATTERN
from elastic.site_init import (
    DEFAULT_LIBVIRT_URI,
    LRM_SPECS,
    SPECS,
    FoundLibvirt,
    FoundLrm,
    StarterAnswers,
    dns_name,
    find_libvirt,
    find_lrms,
    starter_site,
)


def _ask(question: str, default: str) -> str:
    """A question on a terminal (the default on an empty answer); none elsewhere."""
    if not sys.stdin.isatty():
        return default
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def _choose_lrm(args: argparse.Namespace, found: list[FoundLrm]) -> str:
    if args.lrm:
        return str(args.lrm)
    looked = ", ".join(spec.argv[0] for spec in LRM_SPECS)
    kinds = [f.kind for f in found]
    if len(kinds) == 1:
        return kinds[0]
    if sys.stdin.isatty():
        choices = "|".join(SPECS)
        default = kinds[0] if kinds else "slurm"
        while True:
            answer = _ask(f"LRM ({choices})", default)
            if answer in SPECS:
                return answer
    if not kinds:
        raise SystemExit(f"elastic init: no LRM command on PATH ({looked}); give --lrm KIND")
    raise SystemExit(f"elastic init: found {' and '.join(kinds)}; pick one with --lrm")


def _name(given: str | None, question: str, default: str) -> str:
    name = given or _ask(question, default)
    if not re.fullmatch(NAME_PATTERN, name):
        raise SystemExit(
            f"elastic init: {name!r} is not a name elastic takes (a lowercase letter, then "
            "up to 30 lowercase letters, digits or dashes)"
        )
    return name


def cmd_init(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if output.exists() and not args.force:
        raise SystemExit(f"elastic init: {output} exists; --force to overwrite it")
    found = find_lrms()
    lrm = _choose_lrm(args, found)
    host = find_libvirt(args.libvirt_uri)
    answers = StarterAnswers(
        lrm=lrm,
        site_name=_name(args.name, "site name", dns_name(socket.gethostname(), "site")),
        vo=_name(args.vo, "first VO's name", "myvo"),
        found_lrm=next((f for f in found if f.kind == lrm), None),
        libvirt=host if isinstance(host, FoundLibvirt) else None,
        libvirt_problem=host if isinstance(host, str) else "",
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(starter_site(answers))
    for f in found:
        print(f"found {f.kind}: {f.path} ({f.version or 'no version printed'})")
    if not found:
        print(f"no LRM command on PATH; written for --lrm {lrm}")
    if isinstance(host, FoundLibvirt):
        print(f"found libvirt {host.uri}: {host.cores} cores, {host.memory_mb} MiB")
    else:
        print(f"no local hypervisor: {host}")
    print(f"wrote {output}: check the lines marked CHANGE, then elastic validate -c {output}")
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    p = subparsers.add_parser(
        "init",
        help="write a commented starter site.yaml from the LRM and libvirt found here",
        description="Look for the LRM commands on PATH (qconf, sinfo, condor_status, "
        "pbsnodes) and ask the local libvirt (read-only, 5 s at most), then write a "
        "starter site.yaml that elastic validate accepts, each value to check marked "
        "CHANGE. Asks on a terminal only; refuses to overwrite a file without --force "
        "(exit 2).",
    )
    p.add_argument("--lrm", choices=sorted(SPECS), help="the LRM (default: the one found)")
    p.add_argument("-o", "--output", default="site.yaml", help="file to write")
    p.add_argument("--force", action="store_true", help="overwrite the file if it exists")
    p.add_argument("--name", help="site name (default: from this host's name)")
    p.add_argument("--vo", help="the first VO's name (default: myvo)")
    p.add_argument("--libvirt-uri", default=DEFAULT_LIBVIRT_URI, help="the local hypervisor to ask")
    p.set_defaults(func=cmd_init)
