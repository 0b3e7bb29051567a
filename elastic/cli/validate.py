"""``elastic validate``: check a site file and its templates without touching anything.

Layer: entry point (configuration, contextualization and the pure checks of
``elastic.checks``; with ``--online`` also ``elastic.live_checks``, which only reads the
LRM, the hypervisors and EC2). Schema errors stop at once (exit 2, every one listed);
then the checks' findings are printed, warnings included: errors exit 2, warnings
exit 0, or 2 with ``--strict``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from elastic.checks import FileFacts, check_site
from elastic.cli.common import EXIT_CONFIG, EXIT_OK, Subparsers
from elastic.config import Site, load_site_positions

log = logging.getLogger(__name__)


def read_file_facts(site: Site) -> FileFacts:
    """The modes of the secret files and the sources of the cloud-init templates (the
    site's own replacing elastic's, as a render would load them)."""
    from elastic.template_files import sources

    modes: dict[str, int | None] = {}
    for vo in site.vos:
        for path in vo.context.secrets.values():
            resolved = site.resolve(path)
            try:
                modes[str(resolved)] = resolved.stat().st_mode
            except OSError:
                modes[str(resolved)] = None
    return FileFacts(secret_modes=modes, templates=sources(site, "cloud-init"))


def render_problems(site: Site, skip: set[str]) -> list[str]:
    """The templates rendered for each VO (secrets masked), but for the VOs in ``skip``,
    whose findings already say why their rendering fails."""
    try:
        from elastic.contextualize import check_site_templates
    except ImportError:
        log.debug("contextualization not available; templates not checked")
        return []
    vos = [vo for vo in site.vos if vo.name not in skip]
    return check_site_templates(site.model_copy(update={"vos": vos})) if vos else []


def cmd_validate(args: argparse.Namespace) -> int:
    site, positions = load_site_positions(args.file or args.config)
    findings = check_site(site, positions, read_file_facts(site))
    if args.online:
        from elastic.live_checks import check_online

        findings += check_online(site, positions)
    problems = render_problems(site, {f.context_of for f in findings if f.context_of})
    for line in [*map(str, findings), *problems]:
        print(line, file=sys.stderr)
    errors = len(problems) + sum(f.error for f in findings)
    warnings = sum(not f.error for f in findings)
    if errors or (warnings and args.strict):
        return EXIT_CONFIG
    summary = f"{len(site.vos)} VO(s), {len(site.local.hosts)} local host(s)"
    print(f"{site.source}: valid ({summary}{f', {warnings} warning(s)' if warnings else ''})")
    return EXIT_OK


def add_parser(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check a site.yaml and its templates; exit 2 listing every problem",
        description="Check a site file (every key, every limit), the cloud-init templates "
        "it names, and what can be known before a pass: clouds no limit lets a VO reach, "
        "workers that fit no host, secrets missing or readable by others, template "
        "variables missing, host names too long. Every problem is printed as "
        "file:line: key.path: message (warnings as ...: warning: message); the exit code "
        "is 2 if there is an error, or a warning with --strict.",
    )
    parser.add_argument("file", nargs="?", help="file to check (default: --config)")
    parser.add_argument("--strict", action="store_true", help="warnings exit 2 too")
    parser.add_argument(
        "--online",
        action="store_true",
        help="also ask the live site (read-only): the LRM answers, each libvirt host has "
        "its pool and the VOs' base images, EC2 takes the credentials and has the AMIs",
    )
    parser.set_defaults(func=cmd_validate)
