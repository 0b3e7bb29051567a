"""docs/site-yaml.md is what the schema says now, and every key of the schema is described."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field
from ruamel.yaml import YAML

from elastic import config, config_reference
from elastic.config_reference import (
    KeyRow,
    key_paths,
    main,
    render,
    rows_of,
    type_text,
    undescribed,
)

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "site-yaml.md"


def test_the_committed_reference_is_what_the_schema_generates():
    assert PAGE.read_text(encoding="utf-8") == render(), (
        "docs/site-yaml.md differs from the schema: run ./scripts/gen-reference and commit it"
    )


def test_every_key_has_a_description():
    assert undescribed() == []


def test_a_field_without_a_docstring_is_found(monkeypatch):
    """The check above can fail: a new field with no docstring is named by its path."""

    class Bare(config._Strict):
        described: int = 1
        """Has one."""
        bare: int = 2

    rows = list(rows_of(Bare, "policy"))
    assert [r.path for r in rows if not r.description] == ["policy.bare"]

    real = config_reference.all_rows
    monkeypatch.setattr(config_reference, "all_rows", lambda: [*real(), *rows])
    assert undescribed() == ["policy.bare"]
    assert main([]) == 1


def test_check_tells_a_stale_page_from_a_fresh_one(tmp_path, capsys):
    fresh, stale = tmp_path / "fresh.md", tmp_path / "stale.md"
    fresh.write_text(render(), encoding="utf-8")
    stale.write_text(render().replace("`900`", "`901`", 1), encoding="utf-8")
    assert main(["--check", str(fresh)]) == 0
    assert main(["--check", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err


def test_write_produces_the_page(tmp_path):
    out = tmp_path / "site-yaml.md"
    assert main(["--write", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == render()


def _file_keys(node, prefix, known):
    """Key paths of a site file, as the reference spells them; nothing below a mapping."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            row = known.get(path) or known.get(f"{path}[]")
            if row is not None and not row.mapping:
                yield from _file_keys(value, row.path, known)
    elif isinstance(node, list):
        for item in node:
            yield from _file_keys(item, prefix, known)


@pytest.mark.parametrize(
    "site_file",
    ["site.yaml", "benchmarks/site-bench.yaml"],
)
def test_every_key_a_shipped_site_uses_is_in_the_reference(site_file):
    """The generator's paths are the loader's: each key of a real site file is listed."""
    path = ROOT / site_file
    if not path.exists():
        pytest.skip(f"{site_file} is not in this checkout")
    config.load_site(path)  # a valid site, so its keys are real ones
    known = key_paths()
    used = set(_file_keys(YAML(typ="safe").load(path.read_text(encoding="utf-8")), "", known))
    assert used, site_file
    assert sorted(k for k in used if k not in known and f"{k}[]" not in known) == []


def test_each_lrm_kind_has_its_section_and_options():
    page = render()
    for kind, model in config.OPTIONS_OF.items():
        assert f"### `lrm.kind: {kind}`" in page
        for name in model.model_fields:
            assert f"`lrm.options.{name}`" in page
    assert "one of `dynamic`, `power_save`" in page


def test_types_defaults_and_bounds_read_as_an_admin_writes_them():
    known = key_paths()
    assert known["policy.boot_timeout_s"] == KeyRow(
        "policy.boot_timeout_s",
        "int",
        "`900`",
        "≥ 1",
        known["policy.boot_timeout_s"].description,
    )
    assert known["vos[].flavor.cores"].default == "required"
    assert known["vos[].cloud.max_lifetime_s"].type == "int or null"
    assert known["vos[].cloud.max_lifetime_s"].allowed == "> 0"
    assert known["ec2.instance_types"].type == "mapping str → list of str"
    assert known["ec2.instance_types"].mapping
    assert known["local.hosts[]"].type == "list of sections"
    assert known["metrics.listen"].default == "`127.0.0.1:9464`"
    assert known["policy.lrm_vanish_fraction"].allowed == "> 0, ≤ 1"
    assert known["site.name"].allowed == f"matches `{config.NAME_PATTERN}`"
    assert "source" not in known  # set by the loader, not a key of the file


def test_type_text_of_constrained_members():
    from typing import Annotated

    assert type_text(Annotated[int, Field(gt=0)] | None) == "int or null"
    assert type_text(dict[str, Annotated[float, Field(ge=0)]]) == "mapping str → float"
