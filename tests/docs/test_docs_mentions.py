"""What the docs tell an admin to type exists: each `elastic <command>` is a command of the
CLI, each `section.key` a key of the site.yaml schema.

The docs are README.md and docs/*.md. A command is read from code (inline spans and fenced
blocks), after `elastic` and its global options; a key is an inline span that starts with
a top-level section of site.yaml (`policy.boot_timeout_s`, `vos[].cloud.allowed`). Below a
mapping (`vos[].context.vars.qmaster`, `ec2.prices.c5.xlarge`) any key is the site's own.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from elastic.cli import build_parser
from elastic.config import Site
from elastic.config_reference import key_paths

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SECTIONS = tuple(name for name, info in Site.model_fields.items() if not info.exclude)
#: global options that take a value: the word after them is not the command
VALUED = {"-c", "--config", "--log-format"}
#: a key path in a code span: a section, then `.key` or `[]` parts
KEY = re.compile(rf"^(?:{'|'.join(SECTIONS)})(?:\[\])?(?:\.[A-Za-z_][A-Za-z0-9_]*(?:\[\])?)+$")
CODE_SPAN = re.compile(r"`([^`\n]+)`")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.M | re.S)
#: a crontab line's schedule and user (`* * * * * elastic  cd ...`): not a command
CRON = re.compile(r"^\s*(?:[\d*/,-]+\s+){5}\S+\s+")
#: `metrics.py`, `site.yaml`: files, not keys
FILE_SUFFIXES = {"py", "md", "yaml", "yml", "json", "j2", "txt", "prom", "db", "conf", "toml"}


def commands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("elastic has no subcommands")


def code_of(text: str) -> list[str]:
    """Inline code spans and fenced blocks' lines (the fences removed from the prose)."""
    blocks = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return CODE_SPAN.findall(prose) + [line for b in blocks for line in b.splitlines()]


def commands_named(code: str) -> list[str]:
    """The command word after each `elastic` of a line of code (none for `elastic COMMAND`)."""
    found = []
    code = CRON.sub("", code)
    for match in re.finditer(r"(?:^|(?<=[\s/(]))elastic(?=\s)", code):
        before = code[: match.start()].split()
        if before and before[-1].startswith("-") and before[-1] != "--":
            continue  # the value of an option: `-u elastic`, `-o elastic -g elastic`
        words = code[match.end() :].split()
        i = 0
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in VALUED else 1
        if i < len(words) and re.fullmatch(r"[a-z][a-z-]*[a-z]", words[i]):
            found.append(words[i])
    return found


def keys_named(code: str) -> list[str]:
    if not KEY.match(code) or code.rsplit(".", 1)[-1] in FILE_SUFFIXES:
        return []
    return [code]


def known_key(path: str, known: dict[str, object]) -> bool:
    """A schema key, or a key below a free-form mapping of the schema."""
    if path in known:
        return True
    parts = path.split(".")
    for n in range(len(parts) - 1, 0, -1):
        row = known.get(".".join(parts[:n]))
        if row is not None:
            return bool(getattr(row, "mapping", False))
    return False


def mentions(kind: str) -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for code in code_of(doc.read_text(encoding="utf-8")):
            names = commands_named(code) if kind == "command" else keys_named(code.strip())
            found += [(doc.name, name) for name in names]
    return found


def test_every_documented_command_exists():
    known = commands()
    named = mentions("command")
    assert {"plan", "run-once", "render-context"} <= {name for _, name in named}
    assert sorted({f"{doc}: elastic {name}" for doc, name in named if name not in known}) == []


def test_every_documented_key_is_in_the_schema():
    known = key_paths()
    named = mentions("key")
    assert {"policy.boot_timeout_s", "lrm.options.join"} <= {name for _, name in named}
    assert sorted({f"{doc}: {key}" for doc, key in named if not known_key(key, known)}) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("elastic plan --json", ["plan"]),
        ('exec elastic --config /etc/elastic/site.yaml slurm-resume "$@"', ["slurm-resume"]),
        ("/opt/elastic/.venv/bin/elastic -q run-once >>/var/log/elastic.log", ["run-once"]),
        ("elastic -c site.yaml plan", ["plan"]),
        ("elastic COMMAND --help", []),
        ("elastic replan", ["replan"]),
        ("pip install elastic[ec2]", []),
        ("* * * * * elastic  cd /etc/elastic && elastic -q run-once", ["run-once"]),
        ("install -d -o elastic -g elastic /var/lib/elastic", []),
        ("sudo -u elastic elastic plan", ["plan"]),
    ],
)
def test_commands_are_read_as_a_shell_reads_them(code, expected):
    """The reader finds a misspelt command (so the check above can fail) and skips options."""
    assert commands_named(code) == expected
    assert ("replan" in commands()) is False


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("policy.boot_timeout_s", True),
        ("vos[].context.vars.qmaster", True),
        ("ec2.prices", True),
        ("policy.boot_timeout", False),
        ("vos[].flavor.cpus", False),
        ("lrm.options.joins", False),
    ],
)
def test_a_misspelt_key_is_found(path, ok):
    assert known_key(path, key_paths()) is ok


def test_file_names_are_not_keys():
    assert keys_named("metrics.py") == []
    assert keys_named("site.yaml") == []
    assert keys_named("metrics.listen") == ["metrics.listen"]


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, blanks as '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {slug(h) for h in re.findall(r"^#+\s+(.*)$", text, re.M)}


def test_every_relative_link_and_anchor_exists():
    broken = []
    for doc in DOCS:
        for target in LINK.findall(FENCE.sub("", doc.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto: not ours to check offline
            name, _, anchor = target.partition("#")
            path = (doc.parent / name) if name else doc
            if not path.exists():
                broken.append(f"{doc.name}: {target} (no such file)")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_slugs_are_githubs():
    assert slug("Template variables (`vos[].context.vars`)") == "template-variables-voscontextvars"
    assert (
        slug("`join: dynamic` (default) — elastic plans") == "join-dynamic-default--elastic-plans"
    )
