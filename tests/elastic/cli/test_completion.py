"""``elastic completion bash``: the shell code, sourced in a real bash, completes commands
and options from the real parser (argcomplete, answered by ``main``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import elastic

BIN = Path(sys.executable).parent


def complete(line: str) -> list[str]:
    """What bash offers for ``line`` (the cursor at its end), through elastic's script."""
    words = line.split(" ")
    script = f"""
eval "$(elastic completion bash)"
COMP_LINE={line!r}; COMP_POINT=${{#COMP_LINE}}; COMP_WORDS=({" ".join(map(repr, words))})
COMP_CWORD={len(words) - 1}
_python_argcomplete elastic {words[-1]!r} {words[-2]!r}
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(
        ["bash", "--norc", "-c", script],
        env={"PATH": f"{BIN}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [w.strip() for w in done.stdout.splitlines() if w.strip()]


def test_completion_prints_the_bash_registration(tmp_path):
    done = elastic("completion", "bash", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "complete " in done.stdout and " elastic" in done.stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash on this machine")
@pytest.mark.skipif(not (BIN / "elastic").exists(), reason="elastic is not installed in .venv")
def test_bash_completes_commands_and_options():
    assert complete("elastic ren") == ["render-context"]
    assert complete("elastic run-once --log-f") == ["--log-format"]
    assert set(complete("elastic --log-format ")) == {"text", "json"}
    assert {"validate", "plan", "run-once", "demo"} <= set(complete("elastic "))
