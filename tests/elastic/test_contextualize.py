"""cloud-init rendering: every LRM template parses; hostile values cannot add keys;
secrets are read from files and masked for display; missing variables are reported."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from elastic.contextualize import (
    MASK,
    ContextError,
    check_site_templates,
    render_meta_data,
    render_user_data,
)
from tests.factories import make_site

VARS = {
    "sge": {"qmaster": "qm.example"},
    "slurm": {"slurmctld": "ctl.example"},
    "pbs": {"pbs_server": "pbs.example"},
    "htcondor": {"condor_host": "cm.example"},
}
SECRETS = {"slurm": {"munge_key": "munge.key"}, "htcondor": {"condor_token": "token"}}


def site_with(template: str, tmp_path: Path, **vars_: object):
    for name in SECRETS.get(template, {}).values():
        (tmp_path / name).write_text(f"s3cret-{name}\n")
    secrets = {k: str(tmp_path / v) for k, v in SECRETS.get(template, {}).items()}
    context = {"template": template, "vars": {**VARS[template], **vars_}, "secrets": secrets}
    vos = [
        {
            "name": "atlas",
            "match": {"project": ["atlas"]},
            "flavor": {"cores": 4, "memory_mb": 8000},
            "context": context,
        }
    ]
    return make_site(vos=vos, ec2={"instance_types": {}})


@pytest.mark.parametrize("template", sorted(VARS))
def test_each_lrm_template_renders_valid_cloud_config(template, tmp_path):
    site = site_with(
        template,
        tmp_path,
        packages=["apptainer"],
        cvmfs_repositories=["a.cern.ch"],
        pool_accounts=["atlas001"],
    )
    text = render_user_data(site, "atlas", "t-atlas-00001", "t-atlas-00001")
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert doc["hostname"] == "t-atlas-00001"
    assert "apptainer" in doc["packages"]
    assert doc["users"][1]["name"] == "atlas001"
    paths = {f["path"] for f in doc["write_files"]}
    assert {"/etc/elastic/node.json", "/etc/cvmfs/default.local"} <= paths
    assert doc["runcmd"]


def test_sge_template_points_execd_at_the_qmaster(tmp_path):
    doc = yaml.safe_load(render_user_data(site_with("sge", tmp_path), "atlas", "h", "h"))
    files = {f["path"]: f["content"] for f in doc["write_files"]}
    assert files["/var/lib/gridengine/default/common/act_qmaster"] == "qm.example\n"


def test_htcondor_template_restricts_start_to_the_vo(tmp_path):
    doc = yaml.safe_load(render_user_data(site_with("htcondor", tmp_path), "atlas", "h", "n1"))
    config = next(f["content"] for f in doc["write_files"] if f["path"].endswith("50-elastic.conf"))
    assert 'ElasticNodeId = "n1"' in config and 'AcctGroup =?= "atlas"' in config


@pytest.mark.parametrize(
    "hostile",
    ["x\nruncmd: [rm -rf /]", "a: b", "'; echo pwned", "}} {{ 7*7 }}", "- item\n- other"],
)
def test_a_hostile_vo_variable_cannot_add_keys(hostile, tmp_path):
    """YAML only: these values land in YAML scalars and in a file written verbatim. What
    they do in the files of other syntaxes is test_template_injection.py's."""
    files = [{"path": "/etc/motd", "content": hostile}]
    # a package name with a newline or a leading "-" is refused (test_template_injection.py)
    package = "p" + hostile.replace("\n", " ")
    site = site_with("sge", tmp_path, packages=[package], files=files)
    doc = yaml.safe_load(render_user_data(site, "atlas", "h", "h"))
    clean = yaml.safe_load(render_user_data(site_with("sge", tmp_path), "atlas", "h", "h"))
    assert set(doc) == set(clean)
    assert package in doc["packages"]
    assert doc["runcmd"] == clean["runcmd"]
    written = {f["path"]: f["content"] for f in doc["write_files"]}
    assert written["/etc/motd"] == hostile


def test_secrets_are_read_from_files_and_masked_for_display(tmp_path):
    site = site_with("htcondor", tmp_path)
    real = render_user_data(site, "atlas", "h", "h")
    masked = render_user_data(site, "atlas", "h", "h", mask_secrets=True)
    assert "s3cret-token" in real
    assert "s3cret" not in masked and MASK in masked


def test_unreadable_secret_is_a_clear_error(tmp_path):
    site = site_with("htcondor", tmp_path)
    (tmp_path / "token").unlink()
    with pytest.raises(ContextError, match="secret 'condor_token' cannot be read"):
        render_user_data(site, "atlas", "h", "h")


def test_missing_variable_is_reported_by_validate(tmp_path):
    site = site_with("pbs", tmp_path)
    broken = site.model_copy(
        update={
            "vos": [
                site.vos[0].model_copy(
                    update={"context": site.vos[0].context.model_copy(update={"vars": {}})}
                )
            ]
        }
    )
    problems = check_site_templates(broken)
    assert len(problems) == 1 and "pbs_server" in problems[0]
    assert check_site_templates(site) == []


def test_meta_data():
    assert yaml.safe_load(render_meta_data("n1", "h1")) == {
        "instance-id": "n1",
        "local-hostname": "h1",
    }


def _munge_key_file(doc: dict) -> bytes:
    import base64

    entry = next(f for f in doc["write_files"] if f["path"] == "/etc/munge/munge.key")
    assert entry["encoding"] == "b64"
    return base64.b64decode(entry["content"])


def test_a_binary_munge_key_reaches_the_worker_byte_for_byte(tmp_path):
    """mungekey and create-munge-key write random bytes, not UTF-8: reading the secret as
    text raised UnicodeDecodeError out of every render of a Slurm worker."""
    site = site_with("slurm", tmp_path)
    key = bytes(range(256)) * 4  # every byte value, invalid UTF-8
    (tmp_path / "munge.key").write_bytes(key)
    doc = yaml.safe_load(render_user_data(site, "atlas", "h", "h"))
    assert _munge_key_file(doc) == key


def test_a_text_key_keeps_its_trailing_newline_when_written_base64(tmp_path):
    """munge compares the whole file: the controller's key with its newline and the
    worker's without it are two keys."""
    site = site_with("slurm", tmp_path)
    (tmp_path / "munge.key").write_bytes(b"0123456789abcdef0123456789abcdef\n")
    doc = yaml.safe_load(render_user_data(site, "atlas", "h", "h"))
    assert _munge_key_file(doc) == b"0123456789abcdef0123456789abcdef\n"


def test_a_text_secret_written_as_text_is_still_stripped(tmp_path):
    site = site_with("htcondor", tmp_path)
    doc = yaml.safe_load(render_user_data(site, "atlas", "h", "h"))
    token = next(f["content"] for f in doc["write_files"] if "token" in f["path"])
    assert token == "s3cret-token"


def test_a_binary_secret_used_as_text_is_an_error_naming_it(tmp_path):
    site = site_with("htcondor", tmp_path)
    (tmp_path / "token").write_bytes(b"\xff\xfe binary")
    with pytest.raises(ContextError, match=r"secrets\.condor_token .*token\) is binary"):
        render_user_data(site, "atlas", "h", "h")
