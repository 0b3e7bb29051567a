"""Recall end to end: booting cloud workers drained and destroyed before they join, when
local room frees first (``planning.recall``), with the replay LRM and in-memory providers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import Destroy, ProviderKind
from lrm_adapters.replay import ReplayAdapter
from tests.factories import make_site
from tests.fakes import FakeProvider, fake_providers, plain_user_data
from tests.worlds import Clock, replay_lrm


class SlowCloudReplay(ReplayAdapter):
    """The replay LRM, but a cloud worker is not in it (listed, given jobs) until the test
    brings it up, as a real LRM knows no worker whose daemon has not started yet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.coming: dict[str, tuple[str, int, int]] = {}

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        if cloud:
            self.coming[hostname] = (vo, cores, memory_mb)
        else:
            super().register_node(hostname, vo, cores=cores, memory_mb=memory_mb)

    def bring_up(self) -> None:
        for name, (vo, cores, memory_mb) in self.coming.items():
            super().register_node(name, vo, cloud=True, cores=cores, memory_mb=memory_mb)
        self.coming.clear()

    def drain_node(self, hostname: str, reason: str) -> None:
        if hostname not in self.coming:
            super().drain_node(hostname, reason)

    def remove_node(self, hostname: str) -> None:
        if self.coming.pop(hostname, None) is None:
            super().remove_node(hostname)


@dataclass
class World:
    engine: Engine
    lrm: SlowCloudReplay
    clock: Clock
    local: FakeProvider
    cloud: FakeProvider
    room: dict[str, tuple[int, int]]  # the local hosts' room, while a tenant holds it all


def world(tmp_path: Path, runtime_s: int) -> World:
    """Two 4-core atlas jobs of ``runtime_s``, the one local host filled by another tenant,
    so the first pass rents both workers from EC2."""
    site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        policy={"pass_interval_s": 60, "cloud_burst_after_s": 0},
        reservations={"boot_estimate_s": {"libvirt": 60, "ec2": 300}},
    )
    clock = Clock()
    providers = fake_providers(site)
    local, cloud = providers[ProviderKind.LIBVIRT], providers[ProviderKind.EC2]
    room = dict(local.hosts)
    local.hosts = {name: (0, 0) for name in room}
    workload = tmp_path / "jobs.yaml"
    job = {"id": "a", "project": "atlas", "cores": 4, "count": 2, "runtime_s": runtime_s}
    workload.write_text(yaml.safe_dump({"jobs": [job]}))
    lrm = replay_lrm(site, workload, clock, cls=SlowCloudReplay)
    assert isinstance(lrm, SlowCloudReplay)
    engine = Engine(
        site, Ledger.open(site.state_path()), lrm, providers, plain_user_data, clock=clock
    )
    return World(engine, lrm, clock, local, cloud, room)


def test_booting_cloud_workers_give_way_to_local_room_and_are_destroyed_unjoined(
    tmp_path: Path,
) -> None:
    w = world(tmp_path, runtime_s=100)
    first = w.engine.run_pass()
    assert [b.provider for b in first.plan.boots] == [ProviderKind.EC2] * 2
    booting = set(w.cloud.vms)

    w.local.hosts = w.room  # the tenant left: room for both workers, up in a pass and a boot
    w.clock.now += 60
    second = w.engine.run_pass()
    recalled = [a for a in second.plan.actions if isinstance(a, Destroy)]
    assert {d.node_id for d in recalled} == booting and not second.plan.drains
    assert all("booting cloud worker" in d.reason for d in recalled)
    assert not second.degraded
    assert [b.provider for b in second.plan.boots] == [ProviderKind.LIBVIRT] * 2
    # never in the LRM, never ran a job: destroyed in this pass, as a never-joined one
    assert not w.cloud.vms and len(w.local.vms) == 2
    states = {n.id: n.state.value for n in w.engine.ledger.nodes(include_gone=True)}
    assert [states[i] for i in sorted(booting)] == ["gone", "gone"]
    assert not w.engine.ledger.open_intents()


def test_a_cloud_worker_the_lrm_already_lists_is_not_recalled(tmp_path: Path) -> None:
    """Once listed it may take a job at any moment: it is repatriated only when idle and
    drained first, never recalled."""
    w = world(tmp_path, runtime_s=1000)
    w.engine.run_pass()
    w.lrm.bring_up()  # both joined: the replay LRM starts the jobs on them
    w.local.hosts = w.room
    w.clock.now += 60
    second = w.engine.run_pass()
    assert not second.plan.drains and len(w.cloud.vms) == 2
    assert not [a for a in second.plan.actions if isinstance(a, Destroy)]
