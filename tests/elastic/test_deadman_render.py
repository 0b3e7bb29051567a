"""The dead-man switch in a cloud worker's user-data (elastic/deadman.py and the cloud-init
templates), and its settings in site.yaml. Issue 10: "Node-side dead-man switch"."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from elastic.config import ConfigError
from elastic.contextualize import ContextError, check_site_templates, render_user_data
from elastic.deadman import AGENT_DIR, AGENT_PATH, CONFIG_PATH, ENABLE_SCRIPT
from tests.factories import make_site

VARS = {
    "sge": {"qmaster": "qm.example"},
    "slurm": {"slurmctld": "ctl.example"},
    "pbs": {"pbs_server": "pbs.example"},
    "htcondor": {"condor_host": "cm.example"},
}
SECRETS = {"slurm": {"munge_key": "munge.key"}, "htcondor": {"condor_token": "token"}}
EC2_USER_DATA_MAX = 16384  # bytes, before base64


def site_with(template: str, tmp_path: Path, cloud: dict[str, Any] | None = None, **vars_: Any):
    for name in SECRETS.get(template, {}).values():
        (tmp_path / name).write_text(f"s3cret-{name}\n")
    secrets = {k: str(tmp_path / v) for k, v in SECRETS.get(template, {}).items()}
    vo = {
        "name": "atlas",
        "match": {"project": ["atlas"]},
        "flavor": {"cores": 4, "memory_mb": 8000},
        "cloud": {"allowed": True, **(cloud or {})},
        "context": {"template": template, "vars": {**VARS[template], **vars_}, "secrets": secrets},
    }
    return make_site(vos=[vo], ec2={"instance_types": {}})


def files_of(text: str) -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in yaml.safe_load(text)["write_files"]}


def agent_config_of(text: str) -> dict[str, Any]:
    return dict(json.loads(files_of(text)[CONFIG_PATH]["content"]))


@pytest.mark.parametrize("template", sorted(VARS))
def test_a_cloud_worker_installs_and_enables_the_agent(template, tmp_path):
    text = render_user_data(site_with(template, tmp_path), "atlas", "h1", "h1", cloud=True)
    doc = yaml.safe_load(text)
    files = files_of(text)
    agent = files[AGENT_PATH]
    assert agent["permissions"] == "0755" and agent["encoding"] == "gz+b64"
    source = (AGENT_DIR / "elastic-deadman.py").read_bytes()
    assert gzip.decompress(base64.b64decode(agent["content"])) == source
    assert "OnUnitActiveSec=1min" in files["/etc/systemd/system/elastic-deadman.timer"]["content"]
    assert (
        "elastic-deadman --config"
        in files["/etc/systemd/system/elastic-deadman.service"]["content"]
    )
    assert "* * * * * root" in files["/usr/local/share/elastic/elastic-deadman.cron"]["content"]
    assert doc["runcmd"][-1] == ["sh", "-c", ENABLE_SCRIPT]  # after the LRM daemon starts
    assert "procps" in doc["packages"]
    config = agent_config_of(text)
    assert config["hostname"] == "h1" and config["imds_url"] == "http://169.254.169.254"
    assert config["busy_command"] and config["drain_command"] and config["poweroff_command"]
    assert any("h1" in arg for arg in config["drain_command"])
    assert len(text.encode()) < EC2_USER_DATA_MAX


@pytest.mark.parametrize("template", sorted(VARS))
def test_a_local_worker_gets_no_agent_and_the_same_user_data_as_before(template, tmp_path):
    text = render_user_data(site_with(template, tmp_path), "atlas", "h1", "h1")
    assert AGENT_PATH not in files_of(text) and "elastic-deadman" not in text
    assert "procps" not in text


def test_drain_commands_per_lrm_name_the_host(tmp_path):
    def drain(template: str) -> list[str]:
        text = render_user_data(site_with(template, tmp_path), "atlas", "w7", "w7", cloud=True)
        return list(agent_config_of(text)["drain_command"])

    assert drain("sge") == ["qmod", "-d", "*@w7"]
    assert drain("slurm") == ["scontrol", "update", "nodename=w7", "state=drain", "reason={reason}"]
    assert drain("pbs") == ["pbsnodes", "-o", "-N", "{reason}", "w7"]
    assert drain("htcondor")[0] == "condor_drain" and drain("htcondor")[-1] == "w7"


def test_the_settings_reach_the_agent(tmp_path):
    site = site_with("sge", tmp_path, cloud={"self_retire_idle_s": 600, "max_lifetime_s": 86400})
    site = site.model_copy(
        update={"policy": site.policy.model_copy(update={"heartbeat_timeout_s": 1200})}
    )
    config = agent_config_of(render_user_data(site, "atlas", "h", "h", cloud=True))
    assert (config["self_retire_idle_s"], config["max_lifetime_s"]) == (600, 86400)
    assert config["heartbeat_timeout_s"] == 1200


def test_a_vo_may_replace_a_command_with_an_argv(tmp_path):
    override = {"busy_command": ["squeue", "-h", "-w", "{host}"], "busy_if": "output"}
    site = site_with("slurm", tmp_path, deadman=override)
    config = agent_config_of(render_user_data(site, "atlas", "w3", "w3", cloud=True))
    assert config["busy_command"] == ["squeue", "-h", "-w", "w3"]
    assert config["busy_if"] == "output"


@pytest.mark.parametrize(
    "override",
    [{"busy_command": "pgrep -x slurmstepd"}, {"busy_if": "sometimes"}, {"reboot": ["x"]}, []],
)
def test_a_bad_override_is_reported_by_validate(override, tmp_path):
    site = site_with("slurm", tmp_path, deadman=override)
    with pytest.raises(ContextError, match="dead-man switch"):
        render_user_data(site, "atlas", "h", "h", cloud=True)
    (problem,) = check_site_templates(site)
    assert "deadman" in problem


HOSTILE = ["x\nruncmd: [rm -rf /]", "a: b", "'; echo pwned", '"], "env": {"X": "1"}, "y": ["']


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_values_stay_values_in_the_agent_files(hostile, tmp_path):
    override = {"drain_command": ["qmod", "-d", hostile], "env": {"SGE_CELL": hostile}}
    site = site_with("sge", tmp_path, deadman=override)
    clean = site_with("sge", tmp_path, deadman={"drain_command": ["qmod"]})
    doc = yaml.safe_load(render_user_data(site, "atlas", "h", "h", cloud=True))
    clean_doc = yaml.safe_load(render_user_data(clean, "atlas", "h", "h", cloud=True))
    assert set(doc) == set(clean_doc) and doc["runcmd"] == clean_doc["runcmd"]
    assert [f["path"] for f in doc["write_files"]] == [f["path"] for f in clean_doc["write_files"]]
    config = json.loads({f["path"]: f for f in doc["write_files"]}[CONFIG_PATH]["content"])
    assert config["drain_command"] == ["qmod", "-d", hostile]
    assert config["env"]["SGE_CELL"] == hostile
    assert set(config) == set(json.loads(agent_config_json(clean_doc)))


def agent_config_json(doc: dict[str, Any]) -> str:
    return str({f["path"]: f for f in doc["write_files"]}[CONFIG_PATH]["content"])


def test_a_cloud_template_without_the_agent_is_refused(tmp_path):
    """A site's own template (``site.templates_dir``) that forgets the agent would leave
    EC2 workers that bill for ever once the controller is gone: refused at render (and
    validate) time."""
    templates = tmp_path / "templates"
    (templates / "cloud-init").mkdir(parents=True)
    (templates / "cloud-init" / "bare.yaml.j2").write_text(
        "#cloud-config\nhostname: {{ hostname | q }}\nruncmd:\n  - [true]\n"
    )
    site = make_site(
        site={"templates_dir": str(templates)},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "cloud": {"allowed": True},
                "context": {"template": "bare"},
            }
        ],
        ec2={"instance_types": {}},
    )
    assert render_user_data(site, "atlas", "h", "h")  # a local worker may use it
    with pytest.raises(ContextError, match="must install the dead-man switch"):
        render_user_data(site, "atlas", "h", "h", cloud=True)
    (problem,) = check_site_templates(site)
    assert "dead-man switch" in problem


def test_defaults():
    site = make_site()
    assert site.vos[0].cloud.self_retire_idle_s == 1800
    assert site.vos[0].cloud.max_lifetime_s is None
    assert site.policy.heartbeat_timeout_s == 900


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("cloud", "self_retire_idle_s", -1, "must be ≥ 0"),
        ("cloud", "max_lifetime_s", 0, "must be > 0"),
        ("policy", "heartbeat_timeout_s", 59, "must be ≥ 60"),
        ("policy", "heartbeat_timeout_s", 100, "at least twice pass_interval_s"),
    ],
)
def test_bad_settings_are_reported_with_their_key(section, key, value, message):
    with pytest.raises(ConfigError) as error:
        if section == "cloud":
            vo = {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "cloud": {"allowed": True, key: value},
            }
            make_site(vos=[vo], ec2={"instance_types": {}})
        else:
            make_site(policy={key: value, "pass_interval_s": 60})
    assert message in str(error.value)
    assert key in str(error.value) or "policy" in str(error.value)
