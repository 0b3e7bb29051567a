"""Escaping for the files a worker's cloud-init writes: a value from site.yaml is quoted for
the syntax of the file it lands in, or refused.

Layer: rendering helpers (pure; imports nothing of elastic). The ``q`` filter keeps the
cloud-init YAML itself safe, but the files that YAML writes have syntaxes of their own (shell
variable files, HTCondor config and ClassAd expressions, SGE/PBS one-value-per-line config,
command lines split at blanks), where a value that is one YAML string can still add a line,
a key or a command. Each filter here is named for the syntax it quotes for, and templates in
elastic/templates/cloud-init apply one at every variable site. A value a filter cannot make safe
raises ``UnsafeValue`` naming where the value came from (``vars.qmaster``, never the value
itself, which may be long or secret); contextualize turns it into a ContextError naming the VO.
"""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any, Self

from jinja2 import Undefined

#: Shell glob characters: a word read from an unquoted ``$VAR`` is globbed by sh.
_GLOB = "*?["


class UnsafeValue(Exception):
    """A value that cannot be written safely into a file of ``syntax``."""

    def __init__(self, source: str, problem: str, syntax: str) -> None:
        self.source = source
        self.problem = problem
        self.syntax = syntax
        super().__init__(f"{source} {problem}, which {syntax} cannot hold safely; refused")


class Sourced(str):
    """A string that remembers where in the render context it came from, so that a refusal
    names the VO variable (``vars.cvmfs_repositories[1]``) instead of quoting its value."""

    source: str

    def __new__(cls, value: str, source: str) -> Self:
        self = super().__new__(cls, value)
        self.source = source
        return self


def tag(value: Any, source: str) -> Any:
    """``value`` with every string in it a ``Sourced`` named by its path from ``source``
    (one that already is, such as a secret, is kept with what it carries)."""
    if isinstance(value, Sourced):
        return value
    if isinstance(value, str):
        return Sourced(value, source)
    if isinstance(value, list | tuple):
        return [tag(item, f"{source}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        return {key: tag(item, f"{source}.{key}") for key, item in value.items()}
    return value


def source_of(value: Any) -> str:
    """Where a value came from: a Sourced string's path, or a binary secret's."""
    source = getattr(value, "source", None)
    return source if isinstance(source, str) else "a template value"


def _same_source(result: str, value: Any) -> str:
    return Sourced(result, value.source) if isinstance(value, Sourced) else result


def _describe(char: str) -> str:
    names = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab", "\0": "a NUL byte"}
    return names.get(char, f"the control character U+{ord(char):04X}")


def _text(value: Any, syntax: str) -> str:
    """The value as one line of text: a scalar without control or line-break characters
    (every target syntax here is line-oriented; none can quote a newline portably)."""
    if isinstance(value, Undefined):
        value = str(value)  # StrictUndefined raises: "'dict object' has no attribute 'qmaster'"
    if not isinstance(value, str | int | float):
        raise UnsafeValue(
            source_of(value), f"is a {type(value).__name__}, not a single value", syntax
        )
    text = str(value)
    for char in text:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp"):
            raise UnsafeValue(source_of(value), f"contains {_describe(char)}", syntax)
    return text


def _refuse(value: Any, text: str, chars: str, why: str, syntax: str, *, blanks: bool) -> None:
    for char in text:
        if char in chars or (blanks and char.isspace()):
            shown = "a blank" if char.isspace() else repr(char)
            raise UnsafeValue(source_of(value), f"contains {shown} ({why})", syntax)


def shell_quote(value: Any) -> str:
    """One shell word, single-quoted as ``shlex.quote`` does, for ``KEY=value`` files that
    sh sources or systemd reads as an EnvironmentFile (/etc/default/*, CVMFS config)."""
    return _same_source(shlex.quote(_text(value, "a shell variable file")), value)


def classad_string(value: Any) -> str:
    """A ClassAd string literal: in double quotes, with ``\\`` and ``"`` escaped, so the value
    can only ever be compared, never become part of the expression (HTCondor START)."""
    text = _text(value, "a ClassAd string")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return _same_source(f'"{escaped}"', value)


def condor_value(value: Any) -> str:
    """A value on an HTCondor config line: every ``$`` written ``$(DOLLAR)``, so no macro
    (``$(X)``, ``$ENV()``, ``$EVAL()``) is expanded, and no trailing backslash, which would
    join the next line to this one."""
    syntax = "an HTCondor config line"
    text = _text(value, syntax)
    if text.endswith("\\"):
        raise UnsafeValue(source_of(value), "ends with a backslash (a line continuation)", syntax)
    return _same_source(text.replace("$", "$(DOLLAR)"), value)


def config_value(value: Any) -> str:
    """One token on an SGE or PBS config line (``$pbsserver host``, act_qmaster): these files
    have no quoting, so blanks (which start another field) and ``#`` (a comment) are refused."""
    syntax = "an SGE/PBS config line"
    text = _text(value, syntax)
    _refuse(value, text, "#", "a field separator or comment there", syntax, blanks=True)
    return _same_source(text, value)


def option_word(value: Any) -> str:
    """One word of a command line kept in a variable (``SLURMD_OPTIONS``): systemd and sh
    split ``$VAR`` at blanks and sh globs it, and neither removes quotes, so blanks, quotes,
    backslashes and glob characters are refused (they would add or change arguments)."""
    syntax = "a command line read from a variable"
    text = _text(value, syntax)
    _refuse(
        value, text, "#'\"\\" + _GLOB, "it would split or change arguments", syntax, blanks=True
    )
    return _same_source(text, value)


def list_item(value: Any, separator: str) -> str:
    """One item of a ``separator``-joined list (CVMFS_REPOSITORIES): an item containing the
    separator would add items."""
    syntax = f"a {separator!r}-separated list"
    text = _text(value, syntax)
    _refuse(value, text, separator, "it would add an item", syntax, blanks=False)
    return _same_source(text, value)


def argv_word(value: Any) -> str:
    """A name cloud-init passes as one argument to a command (a package to apt/yum, an
    account to useradd): a leading ``-`` would make it an option (``-oDPkg::Pre-Invoke=...``)."""
    syntax = "a command argument"
    text = _text(value, syntax)
    if not text or text.startswith("-"):
        raise UnsafeValue(source_of(value), "is empty or starts with '-' (an option)", syntax)
    return _same_source(text, value)


#: The filters the cloud-init templates use, by name; contextualize registers them.
FILTERS: dict[str, Callable[..., str]] = {
    "shell_quote": shell_quote,
    "classad_string": classad_string,
    "condor_value": condor_value,
    "config_value": config_value,
    "option_word": option_word,
    "list_item": list_item,
    "argv_word": argv_word,
}
