#!/usr/bin/env python3
"""elastic-deadman: the dead-man switch of an elastic cloud worker (docs/deadman.md).

A controller that dies must not leave cloud VMs billing for ever, so each cloud worker
decides for itself, once a minute (systemd timer or cron), from what it can see without
credentials: its own LRM daemons (is a job running here?), the instance metadata service
(the controller's heartbeat tag, spot interruption notice, rebalance recommendation) and a
small state file (first seen, last busy, drained once). It powers the VM off, which the
instance's shutdown behaviour turns into a termination, when

- it has run no job for ``self_retire_idle_s`` and the heartbeat is older than
  ``heartbeat_timeout_s`` (or absent that long since the node booted), or
- it has lived longer than ``max_lifetime_s`` (if set) and runs no job;

and it drains itself in its LRM, once, when EC2 announces a spot interruption or recommends
a rebalance. Doubt never destroys: a busy check that fails counts as busy, an unreachable
IMDS is no heartbeat reading, and before powering off the node drains itself and checks
again that no job arrived. Every command is an argv list from the config file, never a
shell string. Python 3 standard library only (cloud images have it for cloud-init); one
file, so cloud-init can write it.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger("elastic-deadman")

SPOT_PATH = "/latest/meta-data/spot/instance-action"
REBALANCE_PATH = "/latest/meta-data/events/recommendations/rebalance"
HEARTBEAT_PATH = "/latest/meta-data/tags/instance/elastic:heartbeat"
TOKEN_PATH = "/latest/api/token"  # noqa: S105 - an IMDS path, not a secret
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DEFAULTS: dict[str, Any] = {
    "imds_url": "http://169.254.169.254",
    "imds_timeout_s": 2.0,
    "state_file": "/var/lib/elastic/deadman-state.json",
    "uptime_file": "/proc/uptime",
    "self_retire_idle_s": 1800,
    "heartbeat_timeout_s": 900,
    "max_lifetime_s": None,
    "busy_command": None,
    "busy_if": "exit0",
    "drain_command": None,
    "poweroff_command": ["shutdown", "-h", "now"],
    "command_timeout_s": 60.0,
    "settle_s": 5.0,
    "env": {},
}


class ConfigError(Exception):
    """The config file is missing, not JSON, or has a value of the wrong kind."""


class ImdsError(Exception):
    """The instance metadata service did not answer (or answered an error)."""


def load_config(path: str) -> dict[str, Any]:
    """The agent's settings: DEFAULTS overlaid with the JSON file cloud-init wrote."""
    try:
        with open(path, encoding="utf-8") as handle:
            given = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(given, dict):
        raise ConfigError(f"{path}: must be a JSON object")
    unknown = sorted(set(given) - set(DEFAULTS) - {"hostname", "lrm"})
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(unknown)}")
    config = {**DEFAULTS, **given}
    for key in ("busy_command", "drain_command", "poweroff_command"):
        value = config[key]
        if value is not None and not _is_argv(value):
            raise ConfigError(f"{path}: {key} must be a non-empty list of strings (an argv)")
    numbers = ["imds_timeout_s", "self_retire_idle_s", "heartbeat_timeout_s", "command_timeout_s"]
    for key in [*numbers, "settle_s", "max_lifetime_s"]:
        value = config[key]
        if key == "max_lifetime_s" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: {key} must be a number of seconds")
    if not str(config["imds_url"]).startswith(("http://", "https://")):
        raise ConfigError(f"{path}: imds_url must start with http:// or https://")
    if config["busy_if"] not in ("exit0", "output"):
        raise ConfigError(f"{path}: busy_if must be 'exit0' or 'output'")
    if not isinstance(config["env"], dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in config["env"].items()
    ):
        raise ConfigError(f"{path}: env must map names to strings")
    return config


def _is_argv(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(a, str) for a in value)


class Imds:
    """IMDSv2: one session token per run (PUT), then GETs that carry it."""

    def __init__(self, base_url: str, timeout_s: float) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"imds_url must be http(s)://, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._token: str | None = None

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:  # noqa: S310
                return int(answer.status), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), ""
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ImdsError(f"{request.full_url}: {exc}") from exc

    def token(self) -> str:
        if self._token is None:
            request = urllib.request.Request(  # noqa: S310 - http(s) checked in __init__
                self.base_url + TOKEN_PATH,
                method="PUT",
                headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"},
            )
            status, body = self._open(request)
            if status != 200 or not body:
                raise ImdsError(f"IMDSv2 token: HTTP {status}")
            self._token = body.strip()
        return self._token

    def get(self, path: str) -> str | None:
        """The value at ``path``; None when IMDS says there is none (404)."""
        request = urllib.request.Request(  # noqa: S310 - http(s) checked in __init__
            self.base_url + path, headers={"X-aws-ec2-metadata-token": self.token()}
        )
        status, body = self._open(request)
        if status == 404:
            return None
        if status != 200:
            raise ImdsError(f"{path}: HTTP {status}")
        return body


def run_command(argv: list[str], config: dict[str, Any]) -> subprocess.CompletedProcess[str] | None:
    """``argv`` with the config's environment; None if it cannot run or times out."""
    env = {"PATH": DEFAULT_PATH, **os.environ, **config["env"]}
    log.debug("running %s", argv)
    try:
        return subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=float(config["command_timeout_s"]),
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.error("%s: %s", argv[0], exc)
        return None


def check_busy(config: dict[str, Any]) -> bool | None:
    """True: a job runs here; False: none; None: the check failed (callers treat as busy).

    ``busy_if: exit0``: exit 0 is busy and exit 1 idle (pgrep's contract); ``output``: exit
    0 with output is busy, exit 0 without output idle (squeue -h, find). Anything else is
    no answer.
    """
    argv = config["busy_command"]
    if argv is None:
        return None
    done = run_command(list(argv), config)
    if done is None:
        return None
    if config["busy_if"] == "exit0":
        if done.returncode in (0, 1):
            return done.returncode == 0
    elif done.returncode == 0:
        return bool(done.stdout.strip())
    log.warning("busy check %s exited %d: %s", argv, done.returncode, done.stderr.strip()[:200])
    return None


def load_state(path: str, now: float, uptime_file: str | None) -> dict[str, Any]:
    """The state file's contents; a new state starts at the boot (or now)."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
        if isinstance(state, dict) and isinstance(state.get("first_seen"), (int, float)):
            return state
        log.warning("%s: not a state file, starting anew", path)
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s), starting anew", path, exc)
    first = now - _uptime(uptime_file)
    return {"first_seen": first, "last_busy": first, "drained": None}


def _uptime(uptime_file: str | None) -> float:
    if not uptime_file:
        return 0.0
    try:
        with open(uptime_file, encoding="utf-8") as handle:
            return max(0.0, float(handle.read().split()[0]))
    except (OSError, ValueError, IndexError):
        return 0.0


def save_state(path: str, state: dict[str, Any]) -> None:
    """Written aside and renamed: a power cut leaves the old state or the new, never half."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    scratch = f"{path}.tmp"
    with open(scratch, "w", encoding="utf-8") as handle:
        json.dump(state, handle, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, path)


def read_notices(imds: Imds) -> list[str]:
    """Why EC2 wants this node gone soon: spot interruption, rebalance recommendation."""
    notices = []
    spot = imds.get(SPOT_PATH)
    if spot is not None:
        notices.append(f"spot interruption notice {spot.strip()[:120]}")
    rebalance = imds.get(REBALANCE_PATH)
    if rebalance is not None:
        notices.append(f"rebalance recommendation {rebalance.strip()[:120]}")
    return notices


def read_heartbeat(imds: Imds) -> float | None:
    """The controller's last heartbeat (epoch seconds, from the instance tag); None if absent."""
    text = imds.get(HEARTBEAT_PATH)
    if text is None:
        return None
    try:
        return float(text.strip())
    except ValueError:
        log.warning("heartbeat tag %r is not epoch seconds: treated as absent", text[:40])
        return None


def drain(config: dict[str, Any], state: dict[str, Any], reason: str, now: float) -> bool:
    """Drain this node in its LRM unless done before; True once it is drained."""
    if state.get("drained"):
        return True
    argv = config["drain_command"]
    if argv is None:
        log.warning("no drain command configured: cannot drain for %s", reason)
        return False
    text = f"elastic-deadman: {reason}"[:200]
    done = run_command([arg.replace("{reason}", text) for arg in argv], config)
    if done is None or done.returncode != 0:
        detail = "did not run" if done is None else f"exit {done.returncode}: {done.stderr}"
        log.error("drain %s failed (%s), will retry next run", argv, detail.strip()[:300])
        return False
    log.warning("drained this node in its LRM: %s", reason)
    state["drained"] = {"reason": reason, "at": now}
    return True


def retire_reason(
    config: dict[str, Any],
    state: dict[str, Any],
    now: float,
    busy: bool,
    heartbeat_age: float | None,
) -> str | None:
    """Why this node should power itself off now, or None. Pure: the whole rule.

    ``heartbeat_age`` is None when IMDS could not be read: then only the lifetime rule,
    which needs nothing from outside, may apply.
    """
    if busy:
        return None
    lifetime = config["max_lifetime_s"]
    lived = now - float(state["first_seen"])
    if lifetime is not None and lived > float(lifetime):
        return f"lived {lived:.0f} s > max_lifetime_s {lifetime} and runs no job"
    idle = now - float(state["last_busy"])
    timeout = float(config["heartbeat_timeout_s"])
    if heartbeat_age is None or idle < float(config["self_retire_idle_s"]):
        return None
    if heartbeat_age > timeout:
        return (
            f"idle {idle:.0f} s >= self_retire_idle_s {config['self_retire_idle_s']} and "
            f"controller heartbeat {heartbeat_age:.0f} s old > heartbeat_timeout_s {timeout:.0f}"
        )
    return None


def heartbeat_age(imds: Imds, state: dict[str, Any], now: float) -> float:
    """Seconds since the controller's last sign of life; counted from boot while absent."""
    beat = read_heartbeat(imds)
    if beat is not None:
        state["last_heartbeat"] = max(beat, float(state.get("last_heartbeat") or 0))
    reference = state.get("last_heartbeat") or state["first_seen"]
    return now - float(reference)


def run_once(config: dict[str, Any], now: float) -> int:
    """One check; 0 when nothing failed, 1 when a command it needed failed."""
    state = load_state(config["state_file"], now, config["uptime_file"])
    busy_answer = check_busy(config)
    busy = busy_answer is not False
    if busy_answer is None:
        log.warning("busy check gave no answer: counted as busy")
    if busy:
        state["last_busy"] = now
    status = 0
    imds = Imds(config["imds_url"], float(config["imds_timeout_s"]))
    age: float | None = None
    try:
        for notice in read_notices(imds):
            if not drain(config, state, notice, now):
                status = 1
        age = heartbeat_age(imds, state, now)
    except ImdsError as exc:
        log.warning("IMDS unreachable (%s): no heartbeat reading, not retiring on idle", exc)
    reason = retire_reason(config, state, now, busy, age)
    if reason is None:
        save_state(config["state_file"], state)
        log.info("keeping this node (busy=%s, heartbeat age=%s)", busy_answer, _seconds(age))
        return status
    log.warning("retiring this node: %s", reason)
    drain(config, state, reason, now)  # no job may land between the check and the power-off
    time.sleep(float(config["settle_s"]))
    if check_busy(config) is not False:
        state["last_busy"] = now
        save_state(config["state_file"], state)
        log.warning("a job arrived (or the check failed) while retiring: not powering off")
        return status
    state["poweroff"] = {"reason": reason, "at": now}
    save_state(config["state_file"], state)
    done = run_command(list(config["poweroff_command"]), config)
    if done is None or done.returncode != 0:
        log.error("power-off %s failed: %s", config["poweroff_command"], done and done.stderr)
        return 1
    return status


def _seconds(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--config", default="/etc/elastic/deadman.json")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="elastic-deadman: %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    lock_path = f"{config['state_file']}.lock"
    os.makedirs(os.path.dirname(lock_path) or ".", exist_ok=True)
    with open(lock_path, "a", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log.info("another run holds %s: skipping this one", lock_path)
            return 0
        return run_once(config, time.time())


if __name__ == "__main__":
    sys.exit(main())
