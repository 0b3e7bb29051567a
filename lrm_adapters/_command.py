"""Run an LRM command: an argument list, a timeout, a clear error.

Layer: adapter I/O. The only place in elastic that starts a process for an
LRM. There is no shell: arguments are passed as a list, so a job name or host
name from the queue can never become a command.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lrm_adapters.base import LRMError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommandRunner:
    """Runs commands with a fixed timeout and extra environment (e.g. SGE_ROOT)."""

    timeout_s: float = 30.0
    env: Mapping[str, str] = field(default_factory=dict)

    def run(
        self,
        argv: Sequence[str],
        *,
        input_text: str | None = None,
        ok_codes: Sequence[int] = (0,),
    ) -> str:
        """stdout of ``argv``; raises LRMError on a timeout, a missing binary or a bad exit."""
        command = [str(a) for a in argv]
        log.debug("run %s", command)
        environment = {**os.environ, **self.env} if self.env else None
        try:
            done = subprocess.run(
                command,
                input=input_text,
                capture_output=True,
                # a byte that is not UTF-8 (a job name in another encoding) is replaced,
                # not a UnicodeDecodeError: the parsers see text and judge it themselves
                encoding="utf-8",
                errors="replace",
                timeout=self.timeout_s,
                env=environment,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
            raise LRMError(f"timed out after {self.timeout_s:g} s", command, None, stderr) from exc
        except OSError as exc:
            raise LRMError(f"cannot start: {exc.strerror}", command) from exc
        if done.returncode not in ok_codes:
            raise LRMError("failed", command, done.returncode, done.stderr or done.stdout)
        return done.stdout
