"""Run passes forever (or N times) on APScheduler, one at a time.

Layer: process control. APScheduler 3's BlockingScheduler gives the interval,
``max_instances=1`` (never two passes at once in this process), ``coalesce``
(a pass that ran long does not trigger a burst of missed runs) and a clean
shutdown on SIGTERM/SIGINT: the pass under way finishes, nothing new starts.
A pass that fails is logged and the next one runs; the site lock still guards
against a cron pass started beside the daemon.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)


def run_daemon(
    one_pass: Callable[[], object],
    interval_s: float,
    *,
    max_passes: int | None = None,
) -> int:
    """Call ``one_pass`` every ``interval_s``; returns the number of passes run."""
    scheduler = BlockingScheduler()
    passes = [0]
    lock = threading.Lock()

    def tick() -> None:
        try:
            one_pass()
        except Exception:
            log.exception("pass failed; the next one runs at the next interval")
        with lock:
            passes[0] += 1
            if max_passes is not None and passes[0] >= max_passes:
                scheduler.shutdown(wait=False)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the pass under way", signal.Signals(signum).name)
        scheduler.shutdown(wait=False)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    scheduler.add_job(
        tick,
        IntervalTrigger(seconds=interval_s),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
        next_run_time=datetime.now(),
        id="elastic-pass",
    )
    log.info("daemon: a pass every %g s", interval_s)
    try:
        scheduler.start()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("daemon stopped after %d pass(es)", passes[0])
    return passes[0]
