"""``elastic validate``: every problem with its line; a good file is valid."""

from __future__ import annotations

from elastic.cli import EXIT_CONFIG, EXIT_OK, main

from .conftest import SITE


def test_validate_reports_three_mistakes_with_lines(site_file, capsys):
    bad = SITE.replace("kind: replay", "kind: replay\n  speed: 3")
    bad = bad.replace("cores: 4", "cores: -1").replace("name: atlas", "name: Atlas!")
    site_file.write_text(bad)
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert err[0].startswith("site.yaml:6: lrm.speed: unknown key")
    assert any(e.startswith("site.yaml:9: vos[0].name: must match") for e in err)
    assert any(e.startswith("site.yaml:11: vos[0].flavor.cores: must be ≥ 1") for e in err)


def test_validate_accepts_a_good_file(site_file, capsys):
    assert main(["validate", str(site_file)]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


def test_validate_reports_a_template_variable_the_vo_lacks(site_file, capsys):
    site_file.write_text(SITE.replace("vars: {qmaster: qmaster.example}", "vars: {}"))
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert "template sge needs qmaster in context.vars of VO atlas" in capsys.readouterr().err
