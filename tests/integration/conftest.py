"""Shared by the integration tests: the missing-service rule, service env files, and a
real moto_server on 127.0.0.1 (reset between tests) for EC2 through the real boto3 client."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ENV_DIR = Path("/var/lib/elastic-test")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` unless ELASTIC_REQUIRE_SERVICES=1 (CI), where it fails."""
    if condition:
        return
    if os.environ.get("ELASTIC_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def service_env(name: str) -> dict[str, str]:
    """KEY=VALUE lines written by scripts/services/<name>-up."""
    path = ENV_DIR / f"{name}.env"
    require(path.exists(), f"{path} not found: run scripts/services/{name}-up")
    values = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    binary = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    require(Path(binary).exists(), "moto_server is not installed (pip install 'moto[server]')")
    port = _free_port()
    env = {
        **os.environ,
        "MOTO_ENABLE_AMI_VALIDATION": "true",
        "MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION": "true",
    }
    server = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        server.kill()
        pytest.fail("moto_server did not start")
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=5)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return moto_endpoint


def wait_for(condition: object, timeout: float, what: str) -> None:
    """Poll ``condition`` every second until true; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(1)
    pytest.fail(f"timed out waiting for {what}")


def answering_service(name: str, probe: list[str]) -> dict[str, str]:
    """The env file of scripts/services/<name>-up, once ``probe`` answers with it."""
    from lrm_adapters._command import CommandRunner

    env = service_env(name)
    try:
        CommandRunner(10, env).run(probe)
    except Exception as exc:
        require(False, f"{name} does not answer: {exc}")
    return env


@pytest.fixture(scope="session")
def sge_env() -> dict[str, str]:
    return answering_service("sge", ["qstat"])


class Drmaa:
    """Submits through DRMAA in a child process (libdrmaa needs LD_PRELOAD at start)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = {**os.environ, **env}
        self.ids: list[str] = []

    def submit(self, command: str, *args: str, native: str = "", count: int = 1) -> list[str]:
        argv = [
            sys.executable,
            "-m",
            "lrm_adapters.drmaa_jobs",
            "submit",
            "--native",
            native,
            "--count",
            str(count),
            command,
            *args,
        ]
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        ids: list[str] = json.loads(done.stdout)
        self.ids += ids
        return ids

    def probe(self, host: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "lrm_adapters.drmaa_jobs", "probe", host, "--timeout", "60"]
        return subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=90, check=False
        )


@pytest.fixture
def drmaa(sge_env: dict[str, str]) -> Iterator[Drmaa]:
    submitter = Drmaa(sge_env)
    yield submitter
    jobs = sorted({i.split(".")[0] for i in submitter.ids})
    if jobs:
        subprocess.run(["qdel", *jobs], env=submitter.env, capture_output=True, check=False)
