"""The LRM is told each worker's real size at registration (issue 15): a cloud worker
sized to its jobs is its instance type, not the VO's flavor."""

from __future__ import annotations

from lrm_adapters.base import LRMError
from lrm_adapters.pbs import PbsAdapter
from lrm_adapters.slurm import SlurmAdapter
from tests.factories import make_site


class Recorder:
    """Records argv; a node lookup answers "not found" (exit 1), as both LRMs do."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def run(self, argv, **_):
        self.calls.append(list(argv))
        if argv[:2] == ["scontrol", "--future"] or argv[0] == "pbsnodes":
            raise LRMError("no such node", argv, 1, "Node x not found; unknown node")
        return ""


def slurm_create(**size: int) -> list[str]:
    runner = Recorder()
    SlurmAdapter(runner, make_site().vos).register_node(  # type: ignore[arg-type]
        "t-atlas-00001", "atlas", cloud=True, **size
    )
    (create,) = [c for c in runner.calls if c[:2] == ["scontrol", "create"]]
    return create


def test_slurm_creates_the_dynamic_node_with_the_workers_own_cpus_and_memory():
    create = slurm_create(cores=36, memory_mb=73728)  # a c5.9xlarge
    assert "cpus=36" in create and "realmemory=73728" in create


def test_slurm_without_a_size_gets_the_vo_flavor():
    create = slurm_create()
    assert "cpus=4" in create and "realmemory=8000" in create  # atlas's flavor


def pbs_calls(flavor: str, **size: int) -> list[list[str]]:
    runner = Recorder()
    PbsAdapter(runner, flavor=flavor).register_node("t-atlas-00001", "atlas", **size)  # type: ignore[arg-type]
    return runner.calls


def test_torque_is_told_the_workers_np():
    assert ["qmgr", "-c", "set node t-atlas-00001 np = 16"] in pbs_calls("torque", cores=16)
    assert not any("np =" in " ".join(c) for c in pbs_calls("torque"))


def test_openpbs_reads_the_size_from_its_mom():
    assert not any("np =" in " ".join(c) for c in pbs_calls("openpbs", cores=16))
