"""``elastic validate`` with a site's own templates (``site.templates_dir``): it checks the
site's copy, relative to the site file, and a missing folder is one line, exit 2."""

from __future__ import annotations

from elastic.cli import EXIT_CONFIG, EXIT_OK, main

from .conftest import SITE

EL9_SGE = """\
#cloud-config
hostname: {{ hostname | q }}
packages: [{{ vars.el9_repo | q }}]
"""


def test_validate_checks_the_variables_of_the_site_template(site_file, capsys):
    """The EL9 template needs ``el9_repo``: validate says so, relative to the site file."""
    folder = site_file.parent / "mytemplates" / "cloud-init"
    folder.mkdir(parents=True)
    (folder / "sge.yaml.j2").write_text(EL9_SGE)
    text = SITE.replace(
        "  state: ./var/elastic.db", "  state: ./var/elastic.db\n  templates_dir: mytemplates"
    )
    site_file.write_text(text)
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert "template sge needs el9_repo" in capsys.readouterr().err
    site_file.write_text(text.replace("qmaster: qmaster.example", "qmaster: q, el9_repo: r"))
    assert main(["validate", str(site_file)]) == EXIT_OK
    site_file.write_text(text.replace("templates_dir: mytemplates", "templates_dir: typo"))
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(
        "site.templates_dir: " + str(site_file.parent / "typo") + " is not a folder"
    )
