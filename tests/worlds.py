"""An engine over the replay LRM under a hand-moved clock: the unit tests give it in-memory
providers (tests/fakes.py), the fault tests real ones (moto, libvirt's test driver)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import yaml

from elastic.config import Site
from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import ProviderKind
from elastic.vomatch import vo_of
from lrm_adapters.replay import ReplayAdapter
from tests.fakes import plain_user_data


class Clock:
    """The engine's and the replay LRM's time; a test moves ``now`` by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def replay_lrm(
    site: Site, workload: Path, clock: Clock, cls: type[ReplayAdapter] = ReplayAdapter
) -> ReplayAdapter:
    """The replay LRM playing ``workload`` (its state beside it), jobs routed by the site's
    VO match rules as the wiring does."""
    state = workload.with_name("replay.json")
    return cls(workload, state, site.vos, route=partial(vo_of, vos=site.vos), clock=clock)


def replay_engine(
    site: Site,
    tmp_path: Path,
    jobs: list[dict[str, Any]],
    providers: dict[ProviderKind, Any],
    clock: Clock,
    **engine: Any,
) -> Engine:
    """An engine whose LRM plays ``jobs`` (written to tmp_path/jobs.yaml) on ``providers``,
    with plain user-data and the site's own ledger; ``engine``: more Engine arguments."""
    workload = tmp_path / "jobs.yaml"
    workload.write_text(yaml.safe_dump({"jobs": jobs}))
    lrm = replay_lrm(site, workload, clock)
    ledger = Ledger.open(site.state_path())
    return Engine(site, ledger, lrm, providers, plain_user_data, clock=clock, **engine)
