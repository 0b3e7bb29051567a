"""Issue 10's LRM faults with the real Slurm: an administrator's own drain, and a worker
that Slurm stops listing as up (its slurmd gone). The VMs are in-memory (the faults
under test are what Slurm shows); the Slurm side is real."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.engine import Engine
from elastic.ledger import Ledger
from elastic.model import NodeState, ProviderKind, VMRef
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError
from lrm_adapters.slurm import SlurmAdapter
from tests.factories import make_site, record
from tests.fakes import FakeProvider, plain_user_data
from tests.integration.slurm.conftest import VOS

pytestmark = [pytest.mark.slurm]
STATIC = "vm"  # slurm-up's one static node, with a real slurmd


class Clock:
    now = 4_000_000.0

    def __call__(self) -> float:
        return self.now


class KeepStaticNode(SlurmAdapter):
    """Slurm's static node stands in for an elastic worker here: its removal is recorded,
    not done (scontrol delete would take the test cluster's only slurmd away)."""

    removed: list[str]

    def remove_node(self, hostname: str) -> None:
        if hostname == STATIC:
            self.removed.append(hostname)
            return
        super().remove_node(hostname)


def engine_for(tmp_path: Path, slurm_env: dict[str, str], name: str):
    site = make_site(
        site={"name": "sf", "state": str(tmp_path / "ledger.db")},
        lrm={"kind": "slurm"},
        vos=VOS,
        local={"hosts": [{"name": "hv1", "uri": "test:///default", "cores": 8, "memory_mb": 8000}]},
        ec2={"instance_types": {}, "max_instances": 0},
        policy={"dark_timeout_s": 600, "idle_timeout_local_s": 36000},
    )
    lrm = KeepStaticNode(CommandRunner(20, {"SLURM_CONF": slurm_env["SLURM_CONF"]}), site.vos)
    lrm.removed = []
    local = FakeProvider(ProviderKind.LIBVIRT, {"hv1": (8, 8000)})
    local.vms[name] = VMRef(name, ProviderKind.LIBVIRT, "hv1", name, "atlas")
    local.sizes[name] = (2, 1000)
    clock = Clock()
    ledger = Ledger.open(site.state_path())
    ledger.add(
        record(
            name,
            provider=ProviderKind.LIBVIRT,
            location="hv1",
            cores=2,
            memory_mb=1000,
            at=clock.now,
        ),
        "a worker the LRM saw up",
    )
    engine = Engine(site, ledger, lrm, {ProviderKind.LIBVIRT: local}, plain_user_data, clock=clock)
    return engine, clock, local, lrm


def scontrol(slurm_env: dict[str, str], *args: str) -> str:
    return CommandRunner(20, {"SLURM_CONF": slurm_env["SLURM_CONF"]}).run(["scontrol", *args])


def test_an_admins_drain_in_slurm_is_respected_and_the_node_retired_once_empty(tmp_path, slurm_env):
    engine, clock, local, lrm = engine_for(tmp_path, slurm_env, STATIC)
    try:
        engine.run_pass()
        assert engine.ledger.get(STATIC).state is NodeState.READY
        scontrol(slurm_env, "update", f"nodename={STATIC}", "state=drain", "reason=admin: disk")
        clock.now += 60
        result = engine.run_pass()
        record = engine.ledger.get(STATIC)
        assert "drained outside this pass" in " ".join(
            e.message for e in engine.ledger.events(50, node_id=STATIC)
        )
        # empty, so retired in this pass, cloud or not; never undrained behind the admin
        assert record.state is NodeState.GONE, result.plan
        assert lrm.removed == [STATIC] and STATIC not in local.vms
        assert "DRAIN" in scontrol(slurm_env, "show", "node", STATIC)
    finally:
        scontrol(slurm_env, "update", f"nodename={STATIC}", "state=resume")


def test_a_worker_slurm_no_longer_shows_up_is_dark_then_failed_and_destroyed(tmp_path, slurm_env):
    name = "sf-atlas-00009"
    engine, clock, local, lrm = engine_for(tmp_path, slurm_env, name)
    lrm.register_node(name, "atlas")  # registered, its slurmd never (or no longer) up
    try:
        engine.run_pass()
        record = engine.ledger.get(name)
        assert record.state is NodeState.READY and record.dark_since == clock.now
        assert name in local.vms  # not before dark_timeout_s
        clock.now += 601
        result = engine.run_pass()
        assert engine.ledger.get(name).state is NodeState.GONE, result.plan
        assert name not in local.vms
        with pytest.raises(LRMError, match="not found"):
            scontrol(slurm_env, "--future", "show", "node", name)
    finally:
        lrm.remove_node(name)
