"""The Slurm worker's munge key, against the real munged of scripts/services/slurm-up.

Its key is what Debian's munge package writes: random bytes, not UTF-8 text. The
user-data rendered for a worker must carry that key so exactly that a munged started on
the decoded copy accepts the credentials the site's munged issues; a key that differs
by one byte must not (so the check can fail).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from elastic.contextualize import render_user_data
from tests.factories import make_site
from tests.integration.conftest import require

SITE_KEY = Path("/etc/munge/munge.key")


def site_with_key(key: Path):
    vos = [
        {
            "name": "atlas",
            "match": {"account": ["atlas"]},
            "flavor": {"cores": 2, "memory_mb": 1000},
            "context": {
                "template": "slurm",
                "vars": {"slurmctld": "127.0.0.1"},
                "secrets": {"munge_key": str(key)},
            },
        }
    ]
    return make_site(vos=vos, ec2={"instance_types": {}})


@pytest.fixture
def site_munge(slurm_env: dict[str, str]) -> Path:
    require(shutil.which("munged") is not None and SITE_KEY.exists(), "munge is not installed")
    require(
        subprocess.run(["munge", "-n"], capture_output=True, timeout=10).returncode == 0,
        "the site's munged does not answer",
    )
    return SITE_KEY


class Munged:
    """A second munged on its own socket, as the worker would run it."""

    def __init__(self, tmp: Path, key: bytes) -> None:
        self.tmp, self.socket = tmp, tmp / "munge.socket"
        (tmp / "munge.key").write_bytes(key)
        (tmp / "munge.key").chmod(0o400)

    def __enter__(self) -> Munged:
        t = self.tmp
        subprocess.run(
            [
                "munged",
                "--force",
                f"--key-file={t / 'munge.key'}",
                f"--socket={self.socket}",
                f"--pid-file={t / 'munged.pid'}",
                f"--seed-file={t / 'munged.seed'}",
                f"--log-file={t / 'munged.log'}",
            ],
            check=True,
            timeout=20,
        )
        return self

    def __exit__(self, *_: object) -> None:
        subprocess.run(["munged", "--stop", f"--socket={self.socket}"], timeout=20, check=False)

    def accepts_site_credential(self) -> bool:
        """A credential from the site's munged (default socket), decoded by this one."""
        credential = subprocess.run(
            ["munge", "-n"], capture_output=True, check=True, timeout=10
        ).stdout
        decoded = subprocess.run(
            ["unmunge", f"--socket={self.socket}"],
            input=credential,
            capture_output=True,
            timeout=10,
        )
        return decoded.returncode == 0


def rendered_key(site_key: Path) -> bytes:
    doc = yaml.safe_load(render_user_data(site_with_key(site_key), "atlas", "w1", "w1"))
    entry = next(f for f in doc["write_files"] if f["path"] == "/etc/munge/munge.key")
    assert entry["encoding"] == "b64"
    return base64.b64decode(entry["content"])


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A short path: a unix socket's path must fit in 108 bytes, pytest's tmp_path may not."""
    path = Path(tempfile.mkdtemp(prefix="munge-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_site_key_is_binary(site_munge: Path) -> None:
    """What the rest is about: the packaged key is not text."""
    with pytest.raises(UnicodeDecodeError):
        site_munge.read_bytes().decode("utf-8")


def test_a_worker_munged_on_the_rendered_key_accepts_the_sites_credentials(
    site_munge: Path, workdir: Path
) -> None:
    key = rendered_key(site_munge)
    assert key == site_munge.read_bytes()
    with Munged(workdir, key) as worker:
        assert worker.accepts_site_credential()


def test_a_key_one_byte_off_is_refused(site_munge: Path, workdir: Path) -> None:
    key = bytearray(rendered_key(site_munge))
    key[-1] ^= 0xFF
    with Munged(workdir, bytes(key)) as worker:
        assert not worker.accepts_site_credential()
