"""Run an LRM command: an argument list, a timeout, a clear error.

Layer: adapter I/O. The only place in elastic that starts a process for an
LRM. There is no shell: arguments are passed as a list, so a job name or host
name from the queue can never become a command.

``run`` returns the whole stdout; ``stream`` hands stdout to a parser as it arrives
(chunks of bytes), so a million-job listing is never held whole, with the same
timeout (the whole command, reading included) and the same errors.
"""

from __future__ import annotations

import logging
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TypeVar, cast

from lrm_adapters.base import LRMError

log = logging.getLogger(__name__)
T = TypeVar("T")
#: bytes read from stdout at a time by ``stream``
CHUNK_BYTES = 1 << 16


class _Expired(Exception):
    """The command's deadline passed while its output was being read."""


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

    def stream(
        self,
        argv: Sequence[str],
        parse: Callable[[Iterator[bytes]], T],
        *,
        ok_codes: Sequence[int] = (0,),
    ) -> T:
        """``parse`` of ``argv``'s stdout, fed in chunks as the command writes them.

        Same contract as ``run``: LRMError on a timeout (the whole command, the parse of
        what arrived included, costs at most ``timeout_s``), a missing binary or a bad
        exit, with stderr in the error. A bad exit wins over the parser's own error (a
        failing command's partial output is not "garbled"); what the parser leaves
        unread is drained, so the exit code is the command's, not a broken pipe's.
        """
        command = [str(a) for a in argv]
        log.debug("stream %s", command)
        environment = {**os.environ, **self.env} if self.env else None
        deadline = time.monotonic() + self.timeout_s
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
        except OSError as exc:
            raise LRMError(f"cannot start: {exc.strerror}", command) from exc
        assert process.stdout is not None and process.stderr is not None  # both were asked as PIPE
        errors: list[bytes] = []
        # stderr is read aside, or a command filling that pipe would block its stdout
        reader = threading.Thread(target=_read_all, args=(process.stderr, errors), daemon=True)
        reader.start()
        chunks = _chunks(process.stdout, deadline)
        parse_error: Exception | None = None
        try:
            try:
                result: T | None = parse(chunks)
            except LRMError as exc:
                parse_error, result = exc, None
            for _ in chunks:  # the rest, unread by the parser
                pass
            code = process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except (_Expired, subprocess.TimeoutExpired) as exc:
            process.kill()
            process.wait()
            reader.join(1.0)
            stderr = b"".join(errors).decode(errors="replace")
            raise LRMError(f"timed out after {self.timeout_s:g} s", command, None, stderr) from exc
        finally:
            if process.poll() is None:  # the parser itself failed: leave nothing running
                process.kill()
                process.wait()
            process.stdout.close()
        reader.join(max(0.0, deadline - time.monotonic()) + 1.0)
        stderr = b"".join(errors).decode(errors="replace")
        if code not in ok_codes:
            raise LRMError("failed", command, code, stderr) from parse_error
        if parse_error is not None:
            raise parse_error
        return cast(T, result)  # the parser's own answer: set whenever it did not fail


def _read_all(pipe: IO[bytes], into: list[bytes]) -> None:
    into.append(pipe.read())
    pipe.close()


def _chunks(pipe: IO[bytes], deadline: float) -> Iterator[bytes]:
    """``pipe``'s bytes as they arrive; _Expired once ``deadline`` passes first."""
    fd = pipe.fileno()
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise _Expired
            data = os.read(fd, CHUNK_BYTES)
            if not data:
                return
            yield data


def streamed(
    runner: CommandRunner, argv: Sequence[str], parse: Callable[[Iterator[bytes]], T]
) -> T:
    """``runner.stream(argv, parse)``; a stand-in runner that has only ``run`` (a test's
    recording fake) hands its whole output over as one chunk, to the same parser."""
    stream = getattr(runner, "stream", None)
    if stream is None:
        return parse(iter([runner.run(argv).encode()]))
    result: T = stream(argv, parse)
    return result
