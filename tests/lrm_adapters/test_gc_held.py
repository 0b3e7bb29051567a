"""The collector is off while a parse runs and back as it was after, whatever happens."""

from __future__ import annotations

import gc
import threading

import pytest

from lrm_adapters._gc import collector_held
from lrm_adapters.base import LRMParseError


@collector_held
def seen(depth: int = 0) -> list[bool]:
    inner = seen(depth - 1) if depth > 0 else []
    return [gc.isenabled(), *inner]


@collector_held
def garbled() -> None:
    raise LRMParseError("garbled")


def test_off_while_parsing_on_again_after_even_when_nested() -> None:
    assert gc.isenabled()
    assert seen(depth=2) == [False, False, False]
    assert gc.isenabled()


def test_restored_after_a_parse_error() -> None:
    with pytest.raises(LRMParseError):
        garbled()
    assert gc.isenabled()


def test_a_process_that_had_it_off_keeps_it_off() -> None:
    gc.disable()
    try:
        assert seen() == [False]
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_two_threads_parsing_at_once_leave_it_on_when_both_are_done() -> None:
    started, release = threading.Barrier(2), threading.Event()

    @collector_held
    def slow() -> None:
        started.wait()
        release.wait(5)

    worker = threading.Thread(target=slow)
    worker.start()
    try:
        started.wait()  # the worker is inside its parse
        assert seen() == [False]
        assert not gc.isenabled()  # the worker's parse still runs
    finally:
        release.set()
        worker.join(5)
    assert gc.isenabled()
