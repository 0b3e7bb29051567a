"""Named points between the steps of an action, where a test may kill the process.

Layer: bottom (standard library only). The crash-point tests and ``scripts/soak``
set ``ELASTIC_CRASH_AT`` in the environment of a real ``elastic run-once``; when the
pass reaches the named point the process SIGKILLs itself, exactly as an OOM kill or
a power cut would leave it, and the next pass must finish or roll back what it
left. Unset (every real deployment), ``crash_point`` is a dictionary lookup.

``ELASTIC_CRASH_AT`` holds comma-separated items:

- ``boot:booting``: the first time that point is reached;
- ``boot:booting#3``: the third time it is reached in this process;
- ``random:0.05:7``: at each point, with probability 0.05 (seeded with 7).

The points, in the order an action reaches them (docs/architecture.md has the
state each leaves behind):
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections import Counter

POINTS = (
    "pass:recovered",  # after observing, open intents of earlier passes finished (every pass)
    "pass:planned",  # plan made, before any action
    "intent:opened",  # an action's intent written, before anything is called
    "boot:provider",  # provider.boot returned a VM, before the ledger says BOOTING
    "boot:booting",  # BOOTING written, before lrm.register_node
    "boot:registered",  # registered with the LRM, before the ledger says JOINING
    "drain:lrm",  # lrm.drain_node done, before the ledger says DRAINING
    "destroy:retiring",  # RETIRING written, before lrm.remove_node
    "destroy:lrm",  # removed from the LRM, before provider.destroy
    "destroy:provider",  # VM destroyed, before the ledger says GONE
    "intent:done",  # the action done, before its intent is closed
)
__doc__ += "".join(f"\n- ``{p}``" for p in POINTS) + "\n"

ENV = "ELASTIC_CRASH_AT"
_seen: Counter[str] = Counter()
_lock = threading.Lock()
_random: random.Random | None = None


def crash_point(name: str) -> None:
    """SIGKILL this process if ``ELASTIC_CRASH_AT`` names this point (tests only)."""
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    if name not in POINTS:
        raise ValueError(f"unknown crash point {name!r}")
    with _lock:
        _seen[name] += 1
        if _should_crash(wanted, name, _seen[name]):
            os.kill(os.getpid(), signal.SIGKILL)


def _should_crash(wanted: str, name: str, count: int) -> bool:
    global _random
    for item in (w.strip() for w in wanted.split(",")):
        if item.startswith("random:"):
            _, probability, seed = [*item.split(":"), "0"][:3]
            if _random is None:
                _random = random.Random(int(seed))  # noqa: S311 - a test's fault schedule
            if _random.random() < float(probability):
                return True
            continue
        point, _, nth = item.partition("#")
        if point == name and count == int(nth or 1):
            return True
    return False
