"""The agent config a real cloud worker would get, as rendered into its user-data; the
tests swap only the IMDS address, the state file and the commands they stand in for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from elastic.contextualize import render_user_data
from elastic.deadman import CONFIG_PATH
from tests.agent.standin import Node
from tests.factories import make_site

VARS = {"sge": {"qmaster": "qm.example"}, "slurm": {"slurmctld": "ctl.example"}}


def rendered_agent_config(template: str, hostname: str, tmp_path: Path) -> dict[str, Any]:
    """``deadman.json`` from the cloud user-data of ``hostname`` for a VO on ``template``."""
    secrets = {}
    if template == "slurm":
        (tmp_path / "munge.key").write_text("key")
        secrets = {"munge_key": str(tmp_path / "munge.key")}
    vo = {
        "name": "atlas",
        "match": {"project": ["atlas"]},
        "flavor": {"cores": 2, "memory_mb": 1000},
        "cloud": {"allowed": True},
        "context": {"template": template, "vars": VARS[template], "secrets": secrets},
    }
    site = make_site(vos=[vo], ec2={"instance_types": {}})
    doc = yaml.safe_load(render_user_data(site, "atlas", hostname, hostname, cloud=True))
    (entry,) = [f for f in doc["write_files"] if f["path"] == CONFIG_PATH]
    return dict(json.loads(entry["content"]))


def rendered_node(
    template: str, host: str, tmp_path: Path, imds_url: str, env: dict[str, str], real: str
) -> tuple[Node, dict[str, Any]]:
    """The agent of ``host`` running its rendered ``real`` command against the real LRM:
    "drain" (the busy check stays a recorder: idle) or "busy" (the drain stays a recorder:
    the host is the test site's own node); ``env``: what the LRM's client commands need.
    Also the rendered config, for what a test checks in it."""
    rendered = rendered_agent_config(template, host, tmp_path)
    if real == "drain":
        commands = {"drain_command": rendered["drain_command"]}
    else:
        commands = {"busy_command": rendered["busy_command"], "busy_if": rendered["busy_if"]}
    return Node(tmp_path, imds_url, env=env, **commands), rendered
