"""A real install (issue 13): the wheel is built from this tree, installed (not editable)
into a fresh virtualenv, and run from a folder that is not the checkout, on a copy of the
embedded site: first the core alone (version, validate, render-context work; the demo
names the extra it lacks), then with ``[demo]``, where the demo runs two passes.

Packages come through pip as it is configured here (the local wheel folders or PyPI:
registries are allowed in CI); built wheels are cached by pip between runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import elastic

REPO = Path(__file__).resolve().parents[3]
#: what a source checkout has that the wheel's build must not see
NOT_SOURCE = (".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", ".*cache")


def run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        argv,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home())},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.args, done.stdout[-2000:], done.stderr[-4000:])
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the tree (the shared checkout is not written to)."""
    work = tmp_path_factory.mktemp("build")
    source = work / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = work / "dist"
    ok(run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), "."], source))
    (built,) = dist.glob("elastic-*.whl")
    return built


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded site as an admin would copy it: site.yaml, its workload, its hosts."""
    site = tmp_path_factory.mktemp("site")
    shutil.copy(REPO / "site.yaml", site / "site.yaml")
    shutil.copytree(REPO / "workloads", site / "workloads")
    shutil.copytree(REPO / "hosts", site / "hosts")
    return site


@pytest.mark.slow
def test_the_wheel_installs_slim_and_then_runs_the_demo(wheel: Path, site_dir: Path, tmp_path):
    venv = tmp_path / "venv"
    ok(run([sys.executable, "-m", "venv", str(venv)], tmp_path))
    pip, bin_elastic = str(venv / "bin" / "pip"), str(venv / "bin" / "elastic")
    ok(run([pip, "install", "-q", str(wheel)], tmp_path))

    # the package is the installed one, its templates inside it, not the checkout's
    where = ok(
        run(
            [str(venv / "bin" / "python"), "-c", "import elastic; print(elastic.__file__)"],
            site_dir,
        )
    )
    assert where.startswith(str(venv)) and not where.startswith(str(REPO))
    installed = Path(where.strip()).parent
    assert (installed / "templates" / "cloud-init" / "sge.yaml.j2").is_file()
    assert (installed / "templates" / "agent" / "elastic-deadman.py").is_file()

    assert ok(run([bin_elastic, "--version"], site_dir)).strip() == f"elastic {elastic.__version__}"
    assert "valid (2 VO(s), 2 local host(s))" in ok(
        run([bin_elastic, "validate", "site.yaml"], site_dir)
    )
    user_data = ok(run([bin_elastic, "render-context", "atlas"], site_dir))
    assert user_data.startswith("#cloud-config\n") and "demo-atlas-preview" in user_data

    # the core alone cannot run the embedded site: one line naming the extra, exit 2
    slim = run([bin_elastic, "demo", "--passes", "2"], site_dir)
    assert slim.returncode == 2
    assert slim.stderr.splitlines() == [
        "elastic: libvirt (local.hosts) needs the libvirt extra: pip install 'elastic[libvirt]'"
    ]
    listed = ok(run([pip, "list", "--format=freeze"], tmp_path)).lower()
    for extra_only in ("boto3", "libvirt-python", "moto", "matplotlib", "htcondor", "psycopg"):
        assert f"{extra_only}==" not in listed, extra_only

    ok(run([pip, "install", "-q", f"{wheel}[demo]"], tmp_path))
    demo = run([bin_elastic, "-q", "demo", "--passes", "2", "--interval", "0.5"], site_dir)
    out = ok(demo)
    assert "pass  1:" in out and "pass  2:" in out and "boot" in out
    assert "Traceback" not in demo.stderr
