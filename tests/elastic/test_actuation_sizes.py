"""A cloud worker sized to its jobs is booted, recorded and registered with its instance
type's size (issue 15): the engine over the replay LRM and in-memory providers."""

from __future__ import annotations

from pathlib import Path

from elastic.model import ProviderKind
from tests.factories import BASE_SITE, make_site
from tests.fakes import fake_providers
from tests.worlds import Clock, replay_engine


def test_the_lrm_and_the_ledger_get_the_chosen_types_size(tmp_path: Path):
    atlas, cms = BASE_SITE["vos"]
    site = make_site(
        site={"name": "t", "state": str(tmp_path / "ledger.db")},
        vos=[{**atlas, "flavor": {"cores": 8, "memory_mb": 16000}}, cms],
        local={"hosts": []},
        ec2={
            "instance_types": {"atlas": ["c5.2xlarge", "c5.large"], "cms": ["c5.xlarge"]},
            "prices": {"c5.2xlarge": 0.34, "c5.large": 0.085, "c5.xlarge": 0.17},
            "worker_sizing": "jobs",
        },
    )
    clock = Clock()
    providers = fake_providers(site)
    two_core = {"id": "a", "project": "atlas", "cores": 2, "count": 3, "runtime_s": 100}
    engine = replay_engine(site, tmp_path, [two_core], providers, clock)
    result = engine.run_pass()
    assert not result.degraded
    # three 2-core jobs: three full c5.large, not one 8-core flavor worker for 6 cores
    assert [(b.instance_type, b.cores) for b in result.plan.boots] == [("c5.large", 2)] * 3
    assert providers[ProviderKind.EC2].sizes == {b.node_id: (2, 4096) for b in result.plan.boots}
    rows = {n.id: (n.instance_type, n.cores, n.memory_mb) for n in engine.ledger.nodes()}
    assert set(rows.values()) == {("c5.large", 2, 4096)}
    registered = {n.name: (n.cores, n.memory_mb) for n in engine.lrm.snapshot().nodes}
    assert registered == {b.node_id: (2, 4096) for b in result.plan.boots}
