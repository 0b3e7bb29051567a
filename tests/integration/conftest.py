"""Shared rule for integration tests: a missing service skips locally, fails in CI."""

from __future__ import annotations

import os
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
