"""One contract, every adapter: the same checks over SGE, Slurm, Torque, OpenPBS and
HTCondor (recorded outputs) and the replay LRM. Real SGE and Slurm runs are in
tests/integration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import classad2
import pytest

from elastic.model import QueueSnapshot
from elastic.vomatch import label_snapshot, vo_of
from lrm_adapters.base import LRMAdapter, LRMError
from lrm_adapters.htcondor import HTCondorAdapter
from lrm_adapters.pbs import PbsAdapter
from lrm_adapters.replay import ReplayAdapter
from lrm_adapters.sge import SgeAdapter
from lrm_adapters.slurm import SlurmAdapter
from tests.factories import make_site

FIXTURES = Path(__file__).parent.parent / "fixtures"
VOS = make_site().vos


class RecordedRunner:
    """Answers commands from recorded outputs; records every argv it is given."""

    def __init__(self, outputs: dict[str, str], fail: bool = False) -> None:
        self.outputs, self.fail, self.calls = outputs, fail, []

    def run(self, argv: Sequence[str], **_: Any) -> str:
        self.calls.append(argv)
        if self.fail:
            raise LRMError("failed", argv, 1, "connection refused")
        key = " ".join(argv[:2])
        return self.outputs.get(key, self.outputs.get(argv[0], ""))


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def sge(fail: bool = False) -> tuple[LRMAdapter, RecordedRunner]:
    runner = RecordedRunner(
        {
            "qstat -f": fixture("sge/debian_sge819_qstat_f_u_r_ext_xml_disabled.xml"),
            "qhost -xml": fixture("sge/debian_sge819_qhost_xml.xml"),
            "qrstat -xml": fixture("sge/debian_sge819_qrstat_xml_u_all_empty.xml"),
        },
        fail,
    )
    return SgeAdapter(runner, VOS), runner  # type: ignore[arg-type]


def slurm(fail: bool = False) -> tuple[LRMAdapter, RecordedRunner]:
    runner = RecordedRunner(
        {
            "squeue --json": fixture("slurm/debian_slurm2205_squeue_json_v0.0.38.json"),
            "sinfo --json": fixture("slurm/debian_slurm2205_sinfo_json_v0.0.38.json"),
            "scontrol show": fixture(
                "slurm/slurmweb_slurmrestd_25.11_v0.0.44_reservations_empty.json"
            ),
        },
        fail,
    )
    return SlurmAdapter(runner, VOS), runner  # type: ignore[arg-type]


def torque(fail: bool = False) -> tuple[LRMAdapter, RecordedRunner]:
    runner = RecordedRunner(
        {
            "qstat -f": fixture("torque/aiida_torque_qstat_f_ichec_newlines.txt"),
            "pbsnodes -x": fixture("torque/goove_fzu_pbsnodes_x_trimmed.xml"),
        },
        fail,
    )
    return PbsAdapter(runner, flavor="torque"), runner  # type: ignore[arg-type]


def openpbs(fail: bool = False) -> tuple[LRMAdapter, RecordedRunner]:
    runner = RecordedRunner(
        {
            "qstat -f": fixture("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json"),
            "pbsnodes -av": fixture("pbspro/firecrest_openpbs23_pbsnodes_a_F_json.json"),
        },
        fail,
    )
    return PbsAdapter(runner, flavor="openpbs"), runner  # type: ignore[arg-type]


class CondorFake:
    def __init__(self, fail: bool) -> None:
        self.fail, self.calls = fail, []

    def queue_jobs(self):
        if self.fail:
            raise LRMError("failed", ["condor_q"], 1, "cannot contact schedd")
        return classad2.parseAds(fixture("htcondor/htcondor_q_long_ce_job_x509.txt"))

    def startd_ads(self):
        return classad2.parseAds(fixture("htcondor/htcondor_status_long_basic4slot.txt"))

    def drain(self, machine, reason):
        self.calls.append(["drain", machine])


def htcondor(fail: bool = False) -> tuple[LRMAdapter, Any]:
    query = CondorFake(fail)
    return HTCondorAdapter(query), query


def replay(tmp_path: Path, fail: bool = False) -> tuple[LRMAdapter, None]:
    work = tmp_path / "w.yaml"
    work.write_text("jobs: [{id: a, project: atlas, cores: 2, count: 3}]\n" if not fail else "[")
    return ReplayAdapter(work, tmp_path / "s.json", VOS, route=partial(vo_of, vos=VOS)), None


ADAPTERS: dict[str, Callable[..., tuple[LRMAdapter, Any]]] = {
    "sge": sge,
    "slurm": slurm,
    "torque": torque,
    "openpbs": openpbs,
    "htcondor": htcondor,
}


def make(name: str, tmp_path: Path, fail: bool = False) -> tuple[LRMAdapter, Any]:
    return replay(tmp_path, fail) if name == "replay" else ADAPTERS[name](fail)


@pytest.fixture(params=[*ADAPTERS, "replay"])
def name(request) -> str:
    return request.param


def test_snapshot_is_a_labelled_consistent_view(name, tmp_path):
    adapter, _ = make(name, tmp_path)
    assert isinstance(adapter, LRMAdapter)
    snapshot = adapter.snapshot()
    assert isinstance(snapshot, QueueSnapshot) and snapshot.jobs
    vo_names = {vo.name for vo in VOS}
    for job in snapshot.jobs:
        assert job.count >= 1 and job.cores >= 1 and job.memory_mb >= 0
        assert job.vo is None  # raw: the engine decides a job's VO, once
    labelled = label_snapshot(snapshot, VOS).jobs
    assert all(job.vo is None or job.vo in vo_names for job in labelled)
    assert all(node.name for node in snapshot.nodes)


def test_join_drain_remove_are_idempotent_argument_lists(name, tmp_path):
    adapter, runner = make(name, tmp_path)
    for _ in range(2):
        adapter.register_node("t-atlas-00001", "atlas")
        adapter.drain_node("t-atlas-00001", "idle 600 s; not needed")
    for _ in range(2):
        adapter.remove_node("t-atlas-00001")
    for argv in getattr(runner, "calls", []):
        assert isinstance(argv, list | tuple) and all(isinstance(a, str) for a in argv)
        assert " " not in argv[0]


@pytest.mark.parametrize("commanding", ["sge", "slurm", "torque", "openpbs"])
def test_hostile_names_are_refused_before_any_command(commanding, tmp_path):
    adapter, runner = make(commanding, tmp_path)
    with pytest.raises(LRMError, match="invalid"):
        adapter.register_node("w1; rm -rf /", "atlas")
    assert runner.calls == []


def test_a_failing_lrm_raises_lrm_error(name, tmp_path):
    adapter, _ = make(name, tmp_path, fail=True)
    with pytest.raises(LRMError):
        adapter.snapshot()


@pytest.mark.parametrize(
    ("commanding", "cloud_command"),
    [
        ("sge", ["qconf", "-mattr", "queue", "seq_no", "100", "all.q@t-atlas-00002"]),
        ("openpbs", ["qmgr", "-c", "set node t-atlas-00002 priority = -100"]),
    ],
)
def test_cloud_workers_are_made_the_lrms_last_choice(commanding, cloud_command, tmp_path):
    adapter, runner = make(commanding, tmp_path)
    adapter.register_node("t-atlas-00001", "atlas")
    assert not any(argv[:3] == cloud_command[:3] for argv in runner.calls)
    adapter.register_node("t-atlas-00002", "atlas", cloud=True)
    assert cloud_command in [list(argv) for argv in runner.calls]


class NoNodesYet(RecordedRunner):
    def run(self, argv: Sequence[str], **kw: Any) -> str:
        if list(argv[:3]) == ["scontrol", "--future", "show"]:
            self.calls.append(argv)
            raise LRMError("failed", argv, 1, f"Node {argv[-1]} not found")
        return super().run(argv, **kw)


def test_slurm_dynamic_nodes_weigh_by_provider():
    runner = NoNodesYet({})
    adapter = SlurmAdapter(runner, VOS)  # type: ignore[arg-type]
    adapter.register_node("t-atlas-00001", "atlas")
    adapter.register_node("t-atlas-00002", "atlas", cloud=True)
    creates = [list(argv) for argv in runner.calls if argv[:2] == ["scontrol", "create"]]
    assert [a for c in creates for a in c if a.startswith("weight=")] == ["weight=1", "weight=100"]


def test_replay_lrm_fills_local_workers_before_cloud_ones(tmp_path):
    adapter, _ = make("replay", tmp_path)
    adapter.register_node("cloud-1", "atlas", cloud=True)
    adapter.register_node("local-1", "atlas")
    running = {n.name: n.running_jobs for n in adapter.snapshot().nodes}
    assert running == {"local-1": 2, "cloud-1": 1}  # three 2-core jobs, 4-core workers
