"""``CommandRunner.stream``: stdout handed to a parser as it arrives, with ``run``'s
contract kept: a hung or endless command costs at most the timeout, a bad exit is an
LRMError with its stderr (winning over the parser's complaint about partial output)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from lrm_adapters._command import CommandRunner
from lrm_adapters._stream import decoded
from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.slurm_text import parse_scontrol_jobs


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def whole(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


def test_stdout_reaches_the_parser_as_run_returns_it() -> None:
    argv = python("import sys\nfor i in range(100000): sys.stdout.write(f'line {i}\\n')")
    runner = CommandRunner(10)
    assert whole_text(runner, argv) == runner.run(argv)


def whole_text(runner: CommandRunner, argv: list[str]) -> str:
    return runner.stream(argv, lambda chunks: "".join(decoded(chunks)))


def test_the_output_comes_in_several_chunks() -> None:
    sizes: list[int] = []

    def count(chunks: Iterator[bytes]) -> int:
        for chunk in chunks:
            sizes.append(len(chunk))
        return sum(sizes)

    total = CommandRunner(10).stream(python("print('x' * 1_000_000)"), count)
    assert total == 1_000_001
    assert len(sizes) > 1


def test_a_hung_command_costs_the_timeout() -> None:
    argv = python("import time; print('partial', flush=True); time.sleep(30)")
    started = time.monotonic()
    with pytest.raises(LRMError, match=r"timed out after 0\.5 s") as caught:
        CommandRunner(0.5).stream(argv, whole)
    assert time.monotonic() - started < 3
    assert caught.value.exit_code is None


def test_an_endless_output_costs_the_timeout_too() -> None:
    """Reading never blocks here: only the deadline stops it."""
    started = time.monotonic()
    with pytest.raises(LRMError, match="timed out"):
        CommandRunner(0.5).stream(["yes"], lambda chunks: sum(len(c) for c in chunks))
    assert time.monotonic() - started < 3


def test_a_bad_exit_carries_its_code_and_stderr() -> None:
    argv = python(
        "import sys; print('JobId=1 JobState=PEND'); sys.stderr.write('boom'); sys.exit(3)"
    )
    with pytest.raises(LRMError, match="failed") as caught:
        CommandRunner(10).stream(argv, whole)
    assert caught.value.exit_code == 3
    assert caught.value.stderr == "boom"


def test_a_bad_exit_wins_over_the_parsers_error_on_partial_output() -> None:
    argv = python("import sys; print('<JobId=1'); sys.stderr.write('slurmctld down'); sys.exit(1)")
    with pytest.raises(LRMError) as caught:
        CommandRunner(10).stream(argv, lambda c: parse_scontrol_jobs(decoded(c)))
    assert not isinstance(caught.value, LRMParseError)
    assert caught.value.exit_code == 1
    assert "slurmctld down" in caught.value.stderr


def test_the_parsers_error_stands_when_the_command_succeeded() -> None:
    with pytest.raises(LRMParseError):
        CommandRunner(10).stream(
            python("print('<JobId=1')"), lambda c: parse_scontrol_jobs(decoded(c))
        )


def test_ok_codes_are_kept() -> None:
    argv = python("import sys; print('x'); sys.exit(1)")
    assert CommandRunner(10).stream(argv, whole, ok_codes=(0, 1)) == b"x\n"


def test_a_parser_that_stops_early_does_not_fail_the_command() -> None:
    """The rest is drained: the command is not killed by a broken pipe."""
    argv = python("import sys\nfor i in range(200000): sys.stdout.write('y' * 99 + '\\n')")
    assert CommandRunner(10).stream(argv, lambda chunks: len(next(chunks))) > 0


def test_a_full_stderr_does_not_block_stdout() -> None:
    argv = python("import sys; sys.stderr.write('e' * 1_000_000); print('done')")
    assert CommandRunner(10).stream(argv, whole) == b"done\n"


def test_a_missing_binary_is_an_lrm_error() -> None:
    with pytest.raises(LRMError, match="cannot start"):
        CommandRunner(5).stream(["/nonexistent/qstat"], whole)


def test_environment_reaches_the_command() -> None:
    argv = python("import os; print(os.environ['SGE_ROOT'])")
    runner = CommandRunner(5, env={"SGE_ROOT": "/opt/sge"})
    assert runner.stream(argv, whole) == b"/opt/sge\n"
