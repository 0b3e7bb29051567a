"""Templates are package data, and a site's ``templates_dir`` adds or overrides them
(issue 13: "a site may add or override templates in its own folder, so an EL9 template
survives upgrades")."""

from __future__ import annotations

from pathlib import Path

import pytest

import elastic
from elastic.config import ConfigError
from elastic.contextualize import render_user_data
from elastic.deadman import agent_source
from elastic.template_files import packaged, site_templates_dir, sources
from tests.factories import with_atlas

EL9_SGE = """\
#cloud-config
# EL9 worker, the site's own
hostname: {{ hostname | q }}
packages: [{{ vars.el9_repo | q }}]
"""


def sge_site(site: dict[str, str] | None = None, template: str = "sge", **vars_: str):
    context = {"template": template, "vars": {"qmaster": "qm", **vars_}}
    return with_atlas({"context": context}, site=site or {})


def el9_site(tmp_path: Path, template: str = "sge", **vars_: str):
    folder = tmp_path / "site-templates"
    (folder / "cloud-init").mkdir(parents=True, exist_ok=True)
    (folder / "cloud-init" / "sge.yaml.j2").write_text(EL9_SGE)
    (folder / "cloud-init" / "el9only.yaml.j2").write_text(EL9_SGE.replace("EL9", "added"))
    return sge_site({"templates_dir": str(folder)}, template, **vars_)


def test_the_templates_ship_inside_the_package():
    root = Path(str(packaged()))
    assert root == Path(elastic.__file__).parent / "templates"
    assert {"cloud-init/sge.yaml.j2", "cloud-init/_common.yaml.j2"} <= set(
        sources(None, "cloud-init")
    )
    assert packaged().joinpath("libvirt", "domain.xml.j2").is_file()
    assert "def main" in agent_source()


def test_without_templates_dir_the_packaged_template_renders():
    site = sge_site()
    assert site.site.templates_dir is None
    text = render_user_data(site, "atlas", "h1", "h1")
    assert "EL9 worker" not in text
    assert "gridengine" in text


def test_a_site_template_overrides_the_packaged_one_of_the_same_name(tmp_path):
    text = render_user_data(el9_site(tmp_path, el9_repo="epel-release"), "atlas", "h1", "h1")
    assert "# EL9 worker, the site's own" in text
    assert '"epel-release"' in text
    assert "gridengine" not in text


def test_a_site_template_of_a_new_name_is_added(tmp_path):
    site = el9_site(tmp_path, template="el9only", el9_repo="x")
    assert "# added worker" in render_user_data(site, "atlas", "h1", "h1")


def test_the_packaged_includes_still_resolve_beside_a_site_folder(tmp_path):
    """A site folder that overrides nothing a template includes leaves the packaged
    includes (``_common.yaml.j2``) in reach."""
    folder = tmp_path / "empty"
    folder.mkdir()
    site = sge_site({"templates_dir": str(folder)})
    assert "gridengine" in render_user_data(site, "atlas", "h1", "h1")


def test_validate_reads_the_site_copy_of_a_template(tmp_path):
    facts = sources(el9_site(tmp_path), "cloud-init")
    assert facts["cloud-init/sge.yaml.j2"] == EL9_SGE
    assert "cloud-init/el9only.yaml.j2" in facts
    assert "cloud-init/slurm.yaml.j2" in facts  # the packaged ones stay


def test_a_missing_templates_dir_is_a_site_mistake_not_a_silent_fallback(tmp_path):
    site = sge_site({"templates_dir": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match=r"site.templates_dir: .*nowhere is not a folder"):
        site_templates_dir(site)
    with pytest.raises(ConfigError):
        render_user_data(site, "atlas", "h1", "h1")
