"""Calls that must answer by a deadline, in daemon threads that never hold the process.

Layer: bottom (standard library only). ``concurrent.futures`` joins its worker
threads when the interpreter exits, so one call hung in botocore or libvirt kept
``run-once`` alive for minutes after its pass had decided, and after it had let go
of the site lock. Here each call runs in a daemon thread: at the deadline the
caller gets ``TimedOut`` for what has not answered and goes on; the thread is
abandoned, and the engine makes sure no other pass acts on what it was doing
(the site lock is held until the process exits, see ``cli.cmd_run_once``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True)
class TimedOut:
    """No answer within ``limit_s``; ``started`` says whether the call was under way."""

    limit_s: float
    started: bool

    def __str__(self) -> str:
        if self.started:
            return f"no answer within {self.limit_s:g} s (abandoned)"
        return f"not started within the {self.limit_s:g} s deadline"


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | TimedOut | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


#: threads abandoned at a deadline and still running (the engine reads it)
_abandoned: set[threading.Thread] = set()
_abandoned_lock = threading.Lock()


def abandoned_calls() -> int:
    """How many abandoned calls are still running in this process."""
    with _abandoned_lock:
        for thread in [t for t in _abandoned if not t.is_alive()]:
            _abandoned.discard(thread)
        return len(_abandoned)


def run_all(
    calls: Mapping[K, Callable[[], T]], timeout_s: float, max_parallel: int = 8
) -> dict[K, Outcome[T]]:
    """Run every call, at most ``max_parallel`` at a time, all within ``timeout_s``."""
    if not calls:
        return {}
    deadline = time.monotonic() + timeout_s
    todo: queue.SimpleQueue[K] = queue.SimpleQueue()
    for key in calls:
        todo.put(key)
    results: dict[K, Outcome[T]] = {}
    running: dict[K, threading.Thread] = {}
    done = threading.Condition()

    def worker() -> None:
        while time.monotonic() < deadline:
            try:
                key = todo.get_nowait()
            except queue.Empty:
                return
            with done:
                running[key] = threading.current_thread()
            try:
                outcome: Outcome[T] = Outcome(value=calls[key]())
            except BaseException as exc:  # errors are data for the caller
                outcome = Outcome(error=exc)
            with done:
                running.pop(key, None)
                if key not in results:  # not yet given up on
                    results[key] = outcome
                done.notify_all()

    threads = [
        threading.Thread(target=worker, daemon=True, name=f"deadline-{n}")
        for n in range(min(max_parallel, len(calls)))
    ]
    for thread in threads:
        thread.start()
    with done:
        while len(results) < len(calls):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done.wait(left)
        for key in calls:
            if key not in results:
                results[key] = Outcome(error=TimedOut(timeout_s, started=key in running))
        with _abandoned_lock:
            _abandoned.update(t for t in running.values() if t.is_alive())
    return {key: results[key] for key in calls}


def call_with_deadline(call: Callable[[], T], timeout_s: float) -> T:
    """One call within ``timeout_s``; raises its error, or ``DeadlineExceeded``."""
    outcome = run_all({0: call}, timeout_s, 1)[0]
    if isinstance(outcome.error, TimedOut):
        raise DeadlineExceeded(str(outcome.error))
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]


class DeadlineExceeded(Exception):
    """A call did not answer in time and was abandoned."""
