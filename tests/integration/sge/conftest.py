"""The real Son of Grid Engine started by scripts/services/sge-up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from lrm_adapters._command import CommandRunner
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site
from tests.integration.conftest import require, service_env


@pytest.fixture(scope="session")
def sge_env() -> dict[str, str]:
    env = service_env("sge")
    runner = CommandRunner(10, env)
    try:
        runner.run(["qstat"])
    except Exception as exc:
        require(False, f"SGE qmaster does not answer: {exc}")
    return env


@pytest.fixture
def sge(sge_env: dict[str, str]) -> SgeAdapter:
    runner = CommandRunner(20, {k: v for k, v in sge_env.items() if k.startswith("SGE_")})
    return SgeAdapter(runner, make_site().vos)


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
