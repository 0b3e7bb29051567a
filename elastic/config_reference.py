"""The site.yaml reference (docs/site-yaml.md), generated from the pydantic schema.

Layer: documentation tool over elastic.config (imports only config and pydantic; no I/O
but the file ``--write`` names). The schema is the one place a key, its type, default,
allowed values and description are written, so the reference cannot drift from what
``load_site`` accepts; tests/elastic/test_config_reference.py fails when the committed
page differs from what this module produces, or when a field has no description.
``python -m elastic.config_reference --write docs/site-yaml.md`` (scripts/gen-reference)
regenerates it.
"""

from __future__ import annotations

import argparse
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from elastic.config import Site, _LrmBase

#: constraint attributes of pydantic/annotated-types metadata, and how they read
BOUNDS = (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<"))


@dataclass(frozen=True)
class KeyRow:
    """One key of site.yaml as the reference prints it."""

    path: str  # vos[].cloud.max_nodes
    type: str
    default: str
    allowed: str
    description: str
    mapping: bool = False  # a free-form mapping: any key below it is the site's own


def _strip_annotated(annotation: Any) -> tuple[Any, list[Any]]:
    if get_origin(annotation) is Annotated:
        inner, *extra = get_args(annotation)
        metadata: list[Any] = []
        for item in extra:
            metadata.extend(item.metadata if isinstance(item, FieldInfo) else [item])
        return inner, metadata
    return annotation, []


def _union_members(annotation: Any) -> list[Any] | None:
    if get_origin(annotation) in (Union, types.UnionType):
        return list(get_args(annotation))
    return None


def type_text(annotation: Any) -> str:
    """A type as an admin reads it: ``int``, ``list of str``, ``mapping str → float``."""
    annotation, _ = _strip_annotated(annotation)
    members = _union_members(annotation)
    if members is not None:
        shown = [type_text(m) for m in members if m is not type(None)]
        text = " or ".join(shown)
        return f"{text} or null" if type(None) in members else text
    origin = get_origin(annotation)
    if origin is Literal:
        return "str"
    if origin is list:
        return f"list of {type_text(get_args(annotation)[0])}"
    if origin is dict:
        key, value = get_args(annotation)
        return f"mapping {type_text(key)} → {type_text(value)}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    if annotation is Any:
        return "any"
    return getattr(annotation, "__name__", str(annotation))


def _constraints(annotation: Any, metadata: list[Any]) -> list[str]:
    inner, more = _strip_annotated(annotation)
    members = _union_members(inner)
    for member in members or []:
        more.extend(_strip_annotated(member)[1])
    found = []
    for item in [*metadata, *more]:
        for attr, sign in BOUNDS:
            value = getattr(item, attr, None)
            if value is not None:
                found.append(f"{sign} {value:g}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            found.append(f"matches `{pattern}`")
    return found


def _literals(annotation: Any) -> list[str]:
    annotation, _ = _strip_annotated(annotation)
    for member in _union_members(annotation) or [annotation]:
        if get_origin(member) is Literal:
            return [str(v) for v in get_args(member)]
    return []


def allowed_text(info: FieldInfo) -> str:
    values = _literals(info.annotation)
    if values:
        return "one of " + ", ".join(f"`{v}`" for v in values)
    return ", ".join(_constraints(info.annotation, list(info.metadata)))


def value_text(value: Any) -> str:
    """A default as it would be written in YAML."""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {value_text(v).strip('`')}" for k, v in value.items())
        return f"`{{{inner}}}`"
    if isinstance(value, list):
        return "`[" + ", ".join(value_text(v).strip("`") for v in value) + "]`"
    return f"`{value}`"


def default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    factory = info.default_factory
    value = factory() if factory is not None else info.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return ""
    return "" if value is PydanticUndefined else value_text(value)


def one_line(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def _model_of(annotation: Any) -> type[BaseModel] | None:
    annotation, _ = _strip_annotated(annotation)
    for member in _union_members(annotation) or [annotation]:
        if isinstance(member, type) and issubclass(member, BaseModel):
            return member
        if get_origin(member) is list:
            item = _strip_annotated(get_args(member)[0])[0]
            if isinstance(item, type) and issubclass(item, BaseModel):
                return item
    return None


def _is_list(annotation: Any) -> bool:
    return get_origin(_strip_annotated(annotation)[0]) is list


def _is_mapping(annotation: Any) -> bool:
    annotation, _ = _strip_annotated(annotation)
    return any(get_origin(m) is dict for m in _union_members(annotation) or [annotation])


def rows_of(model: type[BaseModel], prefix: str, skip: tuple[str, ...] = ()) -> Iterator[KeyRow]:
    """Every key of ``model`` below ``prefix``, a section's own row before its keys."""
    for name, info in model.model_fields.items():
        if info.exclude or name in skip:
            continue
        path = f"{prefix}.{name}" if prefix else name
        nested = _model_of(info.annotation)
        if nested is not None and _is_list(info.annotation):
            path += "[]"
        yield KeyRow(
            path,
            "list of sections"
            if nested is not None and _is_list(info.annotation)
            else type_text(info.annotation),
            default_text(info),
            allowed_text(info),
            one_line(info.description),
            mapping=_is_mapping(info.annotation),
        )
        if nested is not None:
            yield from rows_of(nested, path)


def lrm_models() -> dict[str, type[_LrmBase]]:
    """``lrm.kind`` → the model of that kind's ``lrm`` section, in the schema's order."""
    info = Site.model_fields["lrm"]
    models: dict[str, type[_LrmBase]] = {}
    for member in _union_members(_strip_annotated(info.annotation)[0]) or []:
        kind = get_args(_strip_annotated(member.model_fields["kind"].annotation)[0])[0]
        models[str(kind)] = member
    return models


def lrm_rows() -> Iterator[KeyRow]:
    """``lrm``'s keys every kind shares; each kind's own are ``kind_rows``."""
    allowed = "one of " + ", ".join(f"`{k}`" for k in lrm_models())
    what = "Which resource manager; it decides which other `lrm` keys there are (below)."
    yield KeyRow("lrm.kind", "str", "required", allowed, what)
    yield from rows_of(_LrmBase, "lrm")


def kind_rows(kind: str) -> Iterator[KeyRow]:
    model = lrm_models()[kind]
    yield from rows_of(model, "lrm", skip=("kind", *_LrmBase.model_fields))


def all_rows() -> list[KeyRow]:
    """Every key of site.yaml, each kind's ``lrm`` keys included."""
    rows: list[KeyRow] = []
    for name, info in Site.model_fields.items():
        if info.exclude:
            continue
        if name == "lrm":
            rows.append(KeyRow("lrm", "section", "required", "", one_line(info.description)))
            rows.extend(lrm_rows())
            for kind in lrm_models():
                rows.extend(kind_rows(kind))
            continue
        rows.extend(rows_of(Site, "", skip=tuple(n for n in Site.model_fields if n != name)))
    return rows


def undescribed() -> list[str]:
    """Key paths whose field has no description: the reference would print an empty cell."""
    return [row.path for row in all_rows() if not row.description]


def key_paths() -> dict[str, KeyRow]:
    """Each documented key path (``vos[].cloud.allowed``) and its row: what a doc may name."""
    return {row.path: row for row in all_rows()}


def _table(rows: list[KeyRow]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| `{row.path}` | {row.type} | {row.default} | {row.allowed} | {row.description} |"
        )
    return lines


HEADER = """\
<!-- Generated by `python -m elastic.config_reference --write docs/site-yaml.md`
     (scripts/gen-reference) from elastic/config.py: edit the field docstrings there,
     not this page. tests/elastic/test_config_reference.py fails when they differ. -->
# site.yaml reference

Every key elastic reads from a site file, from the schema `elastic validate` checks it
against (elastic/config.py). Unknown keys are errors, so a typo never silently drops a
limit. Relative paths are taken from the site file's folder. Secrets are never inline:
`vos[].context.secrets` names files, and AWS credentials come from boto3's usual chain
(environment, `~/.aws`, instance profile). `vos[]` and `local.hosts[]` are lists of
sections; a key under a mapping (`vos[].context.vars`, `ec2.prices`) is the site's own.
Durations are seconds (`_s`), sizes MiB (`_mb`) or GB (`_gb`), costs per hour in the
currency of `ec2.prices`."""


def render() -> str:
    """The whole page: one table per top-level section, ``lrm``'s options per kind."""
    out = [HEADER]
    for name, info in Site.model_fields.items():
        if info.exclude:
            continue
        out += ["", f"## `{name}`", "", one_line(info.description), ""]
        if name == "lrm":
            out += _table([*lrm_rows()])
            for kind, model in lrm_models().items():
                out += [
                    "",
                    f"### `lrm.kind: {kind}`",
                    "",
                    one_line(model.model_fields["kind"].description),
                    "",
                ]
                kind_table = [*kind_rows(kind)]
                out += _table(kind_table) if kind_table else ["No keys of its own."]
            continue
        others = tuple(n for n in Site.model_fields if n != name)
        tops = {name, f"{name}[]"}
        # the section's own row would repeat the paragraph above the table
        out += _table([r for r in rows_of(Site, "", skip=others) if r.path not in tops])
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m elastic.config_reference",
        description="print (or write) the site.yaml reference generated from the schema",
    )
    parser.add_argument("--write", metavar="FILE", help="write the page to FILE")
    parser.add_argument(
        "--check", metavar="FILE", help="exit 1 if FILE differs from the generated page"
    )
    args = parser.parse_args(argv)
    page = render()
    missing = undescribed()
    if missing:
        print(
            "no description (a docstring under the field in elastic/config.py): "
            + ", ".join(missing),
            file=sys.stderr,
        )
        return 1
    if args.check:
        current = Path(args.check).read_text(encoding="utf-8") if Path(args.check).exists() else ""
        if current != page:
            print(f"{args.check} is out of date: run scripts/gen-reference", file=sys.stderr)
            return 1
        return 0
    if args.write:
        Path(args.write).write_text(page, encoding="utf-8")
        return 0
    sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
