"""slurm-resume around the pure plan: one read of the ledger and of the local inventory per
call, placed nodes booted through the Actuator, refused ones DOWN in Slurm with a sanitized
reason and a WARNING, exit code 4 (issue 10). The real-Slurm run of the same path is
tests/integration/slurm/test_power_limits.py."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from elastic import slurm_power
from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import NodeState, ProviderKind
from tests.factories import make_site
from tests.fakes import FakeProvider, fake_providers, plain_user_data

FEATURES = {"cloud1": "atlas", "cloud2": "atlas", "cloud3": "atlas", "odd1": "gpu"}


class FakeScontrol:
    """Answers ``scontrol -o show node`` from FEATURES and records every update."""

    def __init__(self) -> None:
        self.updates: list[list[str]] = []

    def run(self, argv: list[str], **_: object) -> str:
        if argv[:3] == ["scontrol", "show", "hostnames"]:
            return "\n".join(sorted(FEATURES)) if argv[3] == "all" else argv[3].replace(",", "\n")
        if argv[:4] == ["scontrol", "-o", "show", "node"]:
            return f"NodeName={argv[4]} AvailableFeatures={FEATURES[argv[4]]} State=IDLE"
        self.updates.append(list(argv))
        return ""


class PowerSaveLrm:
    """Slurm in power_save: registration and removal are Slurm's own."""

    name = "slurm"

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        pass

    def drain_node(self, hostname: str, reason: str) -> None:
        pass

    def remove_node(self, hostname: str) -> None:
        pass


class CountingProvider(FakeProvider):
    inventories: int = 0

    def inventory(self):
        self.inventories += 1
        return super().inventory()


def build(tmp_path: Path, **overrides):
    site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "slurm", "options": {"join": "power_save"}},
        **overrides,
    )
    providers = fake_providers(site)
    local = CountingProvider(ProviderKind.LIBVIRT, {"hv1": (4, 8000)})  # one atlas worker
    providers[ProviderKind.LIBVIRT] = local
    engine = Engine(
        site, Ledger.open(site.state_path()), PowerSaveLrm(), providers, plain_user_data
    )
    return engine, providers, local


def run(engine: Engine, hostlist: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, FakeScontrol]:
    scontrol = FakeScontrol()
    monkeypatch.setattr(slurm_power, "slurm_runner", lambda site: scontrol)
    return slurm_power.run_power("resume", hostlist, engine), scontrol


def test_one_call_takes_each_room_once_and_reports_what_it_refuses(tmp_path, monkeypatch, caplog):
    engine, providers, local = build(tmp_path, ec2={"max_instances": 1})
    with caplog.at_level(logging.WARNING, logger="elastic.slurm_power"):
        code, scontrol = run(engine, "cloud1,cloud2,cloud3", monkeypatch)
    assert code == 4
    placed = {n.id: (n.provider, n.state) for n in engine.ledger.nodes()}
    assert placed == {
        "cloud1": (ProviderKind.LIBVIRT, NodeState.JOINING),
        "cloud2": (ProviderKind.EC2, NodeState.JOINING),
    }
    assert local.inventories == 1 and len(providers[ProviderKind.EC2].vms) == 1
    why = (
        "elastic: no local room (largest free 0 cores_0 MB, flavor 4 cores_8000 MB) "
        "and site ec2.max_instances 1 reached (1 in use)"
    )
    assert scontrol.updates == [
        ["scontrol", "update", "nodename=cloud3", f"state={state}", f"reason={why}"]
        for state in ("down", "power_down_force")
    ]
    assert "resume cloud3 refused: no local room (largest free 0 cores/0 MB" in caplog.text


def test_reason_reaches_slurm_sanitized(tmp_path, monkeypatch):
    engine, _, _ = build(tmp_path, ec2={"max_hourly_cost": 0.2})
    code, scontrol = run(engine, "cloud1,cloud2,cloud3", monkeypatch)
    assert code == 4
    (down, _) = scontrol.updates
    reason = down[-1]
    assert reason.endswith("cloud budget: site _0.20_h of _0.20_h, next _0.20_h")
    assert re.fullmatch(r"reason=[\w .,:=()-]{1,200}", reason)


def test_node_of_no_vo_is_refused_and_the_others_still_boot(tmp_path, monkeypatch):
    engine, _, _ = build(tmp_path)
    code, scontrol = run(engine, "odd1,cloud1", monkeypatch)
    assert code == 4
    assert [n.id for n in engine.ledger.nodes()] == ["cloud1"]
    assert [u[2] for u in scontrol.updates] == ["nodename=odd1", "nodename=odd1"]
    assert "has no feature naming a VO" in scontrol.updates[0][-1]


def test_all_placed_exits_0_and_tells_slurm_nothing(tmp_path, monkeypatch):
    engine, _, _ = build(tmp_path)
    code, scontrol = run(engine, "cloud1,cloud2", monkeypatch)
    assert code == 0 and scontrol.updates == []
    assert len(engine.ledger.nodes()) == 2


def test_unread_local_inventory_boots_nothing_locally(tmp_path, monkeypatch):
    engine, _, local = build(tmp_path)
    local.fail_inventory = True
    code, _ = run(engine, "cloud1", monkeypatch)
    assert code == 0
    (node,) = engine.ledger.nodes()
    assert node.provider is ProviderKind.EC2 and not local.vms


def test_a_hung_local_inventory_is_abandoned_at_the_lrm_timeout(tmp_path, monkeypatch):
    """Slurm waits on its ResumeProgram: a hypervisor that never answers costs one LRM
    timeout, then the node goes to EC2 as for an unread inventory."""
    import threading
    import time

    engine, _, local = build(tmp_path)
    lrm = engine.site.lrm.model_copy(update={"timeout_s": 0.5})
    engine.site = engine.site.model_copy(update={"lrm": lrm})
    release = threading.Event()
    local.inventory = lambda: release.wait(30)  # type: ignore[method-assign]
    started = time.monotonic()
    try:
        code, _ = run(engine, "cloud1", monkeypatch)
    finally:
        release.set()
    assert time.monotonic() - started < 15
    assert code == 0
    (node,) = engine.ledger.nodes()
    assert node.provider is ProviderKind.EC2
