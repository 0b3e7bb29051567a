"""The dead-man switch of a cloud worker: the agent's config and the files cloud-init writes.

Layer: rendering (reads the packaged templates/agent; no network; imports elastic.config
and elastic.template_files only). A
controller that dies must not leave EC2 workers billing for ever, so each one carries
``elastic/templates/agent/elastic-deadman.py``, run every minute, which powers the VM off (the
instance then terminates, ``InstanceInitiatedShutdownBehavior``) when it is idle and the
controller's heartbeat tag is stale, or when it has outlived ``max_lifetime_s``, and drains
it in its LRM when EC2 announces a spot interruption or a rebalance (docs/deadman.md).

This module decides what the agent is told: per LRM, which local command says "a job runs
here" and which command drains the node from the node itself. Every command is an argv
list written as JSON; the host name is substituted into argv elements here and the agent
adds only its own fixed reason texts, so no value from site.yaml or the LRM is ever parsed
by a shell. A VO may replace any command with ``context.vars.deadman`` (a mapping).
"""

from __future__ import annotations

import base64
import gzip
import json
from dataclasses import dataclass
from typing import Any

from elastic.config import Site
from elastic.template_files import packaged

#: the agent's files, always elastic's own (never a site's copy: see template_files)
AGENT_DIR = packaged().joinpath("agent")
AGENT_PATH = "/usr/local/sbin/elastic-deadman"
CONFIG_PATH = "/etc/elastic/deadman.json"
STATE_PATH = "/var/lib/elastic/deadman-state.json"
CRON_STAGING = "/usr/local/share/elastic/elastic-deadman.cron"
IMDS_URL = "http://169.254.169.254"
#: systemd when the image runs it, else the cron line; a fixed string, nothing substituted
ENABLE_SCRIPT = (
    "if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then "
    "systemctl daemon-reload && systemctl enable --now elastic-deadman.timer; "
    f"else install -m 0644 {CRON_STAGING} /etc/cron.d/elastic-deadman; fi"
)
#: what a VO may override in context.vars.deadman
OVERRIDABLE = ("busy_command", "busy_if", "drain_command", "poweroff_command", "env")


@dataclass(frozen=True)
class LrmCommands:
    """How the agent asks its LRM, from the node: is a job running here, and drain me.

    The busy checks are local (a per-job process or spool file), not a query to the head
    node: a dead-man switch must still see "idle" when the site's head node is gone too.
    """

    busy: tuple[str, ...]
    busy_if: str  # "exit0": exit 0 busy, 1 idle; "output": exit 0 with output busy
    drain: tuple[str, ...]  # {host} here, {reason} by the agent
    env: tuple[tuple[str, str], ...] = ()
    packages: tuple[str, ...] = ("procps",)


LRM_COMMANDS: dict[str, LrmCommands] = {
    # one sge_shepherd per running job; qmod needs gridengine-client on the worker
    "sge": LrmCommands(
        busy=("pgrep", "-x", "sge_shepherd"),
        busy_if="exit0",
        drain=("qmod", "-d", "*@{host}"),
        env=(("SGE_ROOT", "/var/lib/gridengine"), ("SGE_CELL", "default")),
        packages=("procps", "gridengine-client"),
    ),
    # one slurmstepd per job step (the batch step included)
    "slurm": LrmCommands(
        busy=("pgrep", "-x", "slurmstepd"),
        busy_if="exit0",
        drain=("scontrol", "update", "nodename={host}", "state=drain", "reason={reason}"),
        packages=("procps", "slurm-client"),
    ),
    # pbs_mom keeps a <job id>.JB file per job it runs
    "pbs": LrmCommands(
        busy=("find", "/var/spool/torque/mom_priv/jobs", "-maxdepth", "1", "-name", "*.JB"),
        busy_if="output",
        drain=("pbsnodes", "-o", "-N", "{reason}", "{host}"),
        packages=("procps", "torque-client"),
    ),
    # one condor_starter per claimed slot that runs a job
    "htcondor": LrmCommands(
        busy=("pgrep", "-x", "condor_starter"),
        busy_if="exit0",
        drain=("condor_drain", "-graceful", "-reason", "{reason}", "{host}"),
    ),
}


class DeadmanError(ValueError):
    """A VO's ``context.vars.deadman`` override is not what the agent can run."""


def lrm_commands(site: Site, vo: str) -> LrmCommands | None:
    """The VO's worker software is what its template installs; else the site's LRM."""
    template = site.vo(vo).context.template
    return LRM_COMMANDS.get(template) or LRM_COMMANDS.get(site.lrm.kind)


def agent_config(site: Site, vo: str, hostname: str) -> dict[str, Any]:
    """What the agent on ``hostname`` reads from CONFIG_PATH (JSON)."""
    cloud = site.vo(vo).cloud
    commands = lrm_commands(site, vo)
    config: dict[str, Any] = {
        "hostname": hostname,
        "lrm": site.vo(vo).context.template,
        "imds_url": IMDS_URL,
        "state_file": STATE_PATH,
        "uptime_file": "/proc/uptime",
        "self_retire_idle_s": cloud.self_retire_idle_s,
        "heartbeat_timeout_s": site.policy.heartbeat_timeout_s,
        "max_lifetime_s": cloud.max_lifetime_s,
        "busy_command": _argv(commands.busy, hostname) if commands else None,
        "busy_if": commands.busy_if if commands else "exit0",
        "drain_command": _argv(commands.drain, hostname) if commands else None,
        "poweroff_command": ["shutdown", "-h", "now"],
        "env": dict(commands.env) if commands else {},
    }
    config.update(_overrides(site.vo(vo).context.vars.get("deadman"), vo, hostname))
    return config


def _argv(template: tuple[str, ...] | list[str], hostname: str) -> list[str]:
    return [arg.replace("{host}", hostname) for arg in template]


def _overrides(given: Any, vo: str, hostname: str) -> dict[str, Any]:
    if given is None:
        return {}
    where = f"VO {vo}: context.vars.deadman"
    if not isinstance(given, dict):
        raise DeadmanError(f"{where} must be a mapping")
    unknown = sorted(set(given) - set(OVERRIDABLE))
    if unknown:
        raise DeadmanError(f"{where}: unknown keys {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key == "busy_if":
            if value not in ("exit0", "output"):
                raise DeadmanError(f"{where}.busy_if must be exit0 or output")
            values[key] = value
        elif key == "env":
            if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()
            ):
                raise DeadmanError(f"{where}.env must map names to strings")
            values[key] = dict(value)
        else:
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(a, str) for a in value)
            ):
                raise DeadmanError(f"{where}.{key} must be a list of strings (an argv)")
            values[key] = _argv(value, hostname)
    return values


def agent_source() -> str:
    return (AGENT_DIR / "elastic-deadman.py").read_text(encoding="utf-8")


def cloud_init_files(site: Site, vo: str, hostname: str) -> dict[str, Any]:
    """What cloud-init/_common.yaml.j2 and _deadman_runcmd.yaml.j2 write; each value quoted.

    The agent goes gzip+base64 (``encoding: gz+b64``): EC2 takes at most 16 KB of
    user-data, and the compressed agent is a third of its source. ``mtime=0`` keeps the
    rendering the same for the same inputs.
    """
    commands = lrm_commands(site, vo)
    packed = gzip.compress(agent_source().encode("utf-8"), compresslevel=9, mtime=0)
    return {
        "agent_path": AGENT_PATH,
        "agent_gz_b64": base64.b64encode(packed).decode("ascii"),
        "config_path": CONFIG_PATH,
        "config_json": json.dumps(agent_config(site, vo, hostname), indent=1, sort_keys=True)
        + "\n",
        "service": (AGENT_DIR / "elastic-deadman.service").read_text(encoding="utf-8"),
        "timer": (AGENT_DIR / "elastic-deadman.timer").read_text(encoding="utf-8"),
        "cron_path": CRON_STAGING,
        "cron": (AGENT_DIR / "elastic-deadman.cron").read_text(encoding="utf-8"),
        "packages": list(commands.packages) if commands else [],
        "enable_script": ENABLE_SCRIPT,
    }
