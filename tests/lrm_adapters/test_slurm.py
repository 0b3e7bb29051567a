"""Slurm parsers on every JSON version in the fixtures (21.08 v0.0.37, our 22.05 v0.0.38,
23.02 data_parser v0.0.39, slurmrestd v0.0.41/v0.0.42) and the text fallbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elastic.model import LrmNodeState
from lrm_adapters.base import LRMParseError
from lrm_adapters.slurm_parse import (
    expand_hostlist,
    number,
    parse_sinfo_json,
    parse_squeue_json,
)
from lrm_adapters.slurm_text import parse_scontrol_jobs, parse_scontrol_nodes, records

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slurm"
IDLE, BUSY, DOWN = LrmNodeState.IDLE, LrmNodeState.BUSY, LrmNodeState.DOWN


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def nodes(name: str) -> dict[str, tuple[LrmNodeState, int, int]]:
    return {n.name: (n.state, n.cores, n.memory_mb) for n in parse_sinfo_json(read(name))}


def test_22_05_own_capture_held_job_and_array():
    jobs, running = parse_squeue_json(read("debian_slurm2205_squeue_json_v0.0.38.json"))
    held, array = jobs
    assert (held.cores, held.memory_mb, held.account, held.queue) == (2, 700, "atlas", "cloud")
    assert held.runnable is False and held.reason == "JobHeldUser"
    assert (array.count, array.account, array.running) == (30, "cms", False)
    assert running == {}
    cloud = nodes("debian_slurm2205_sinfo_json_v0.0.38.json")
    assert cloud["cloud1"] == (LrmNodeState.ABSENT, 2, 1000)  # CLOUD + POWERED_DOWN
    assert cloud["vm"][0] is IDLE


def test_21_08_v0_0_37_jobs_and_nodes():
    jobs, running = parse_squeue_json(read("rivos_squeue_json_21.08_v0.0.37.json"))
    run, pending = jobs
    assert (run.id, run.running, run.memory_mb, run.account) == (
        "26515966",
        True,
        64000,
        "account1",
    )
    assert (pending.count, pending.runnable, pending.reason) == (10, False, "Dependency")
    assert running == {"cs75": 1}
    assert nodes("rivos_sinfo_json_21.08_v0.0.37_nodes.json") == {
        "cs2.example.company.com": (BUSY, 64, 500000),
        "cs3.example.company.com": (IDLE, 64, 500000),
        "cs4.example.company.com": (BUSY, 64, 500000),
        "cs5.example.company.com": (DOWN, 64, 500000),
    }


def test_23_02_data_parser_grouped_sinfo_allocated_and_drain():
    assert nodes("rivos_sinfo_json_23.02_dp0.0.39_alloc_drain.json") == {
        "cs62": (LrmNodeState.DRAINING, 64, 770000)
    }


def test_slurmrestd_v0_0_41_jobs_finished_ones_dropped_multi_node_kept():
    jobs, running = parse_squeue_json(read("slurmweb_slurmrestd_25.05_v0.0.41_jobs.json"))
    assert len(jobs) == 11  # 14 records, the TIMEOUT/FAILED/COMPLETED ones left out
    two_nodes = next(j for j in jobs if j.id == "4")
    assert (two_nodes.cores, two_nodes.nodes, two_nodes.memory_mb) == (128, 2, 65536)
    assert running == {"cn1": 1, "cn2": 1}
    pending = [j for j in jobs if not j.running]
    assert {j.reason for j in pending} >= {"Resources", "Priority"}
    assert all(j.runnable for j in pending if j.reason in {"Resources", "Priority"})


def test_slurmrestd_node_states_across_versions():
    assert nodes("slurmweb_slurmrestd_24.11_v0.0.42_nodes.json")["cn4"][0] is LrmNodeState.DRAINED
    assert nodes("slurmweb_slurmrestd_24.11_v0.0.42_nodes.json")["cn3"][0] is DOWN
    v41 = nodes("slurmweb_slurmrestd_25.05_v0.0.41_nodes.json")
    assert (v41["cn1"][0], v41["cn2"][0], v41["cn3"][0], v41["gpu1"]) == (
        BUSY,
        DOWN,
        LrmNodeState.DRAINED,
        (IDLE, 32, 524288),
    )
    draining = nodes("slurmweb_slurmrestd_25.11_v0.0.41_node_draining.json")
    assert draining == {"cn1": (LrmNodeState.DRAINING, 64, 131072)}


def test_scontrol_text_fallback_one_line_records():
    jobs, running = parse_scontrol_jobs(read("clues_scontrol_o_show_jobs_20.02.txt"))
    assert [(j.id, j.running, j.memory_mb, j.user, j.queue) for j in jobs] == [
        ("2", True, 1024, "cloudadm", "debug"),
        ("3", False, 0, "cloudadm", "debug"),
    ]
    assert running == {"vnode-1": 1}
    nodes = {
        n.name: n.state for n in parse_scontrol_nodes(read("clues_scontrol_o_show_nodes_20.02.txt"))
    }
    assert nodes == {"vnode-1": IDLE, "vnode-2": DOWN}


def test_scontrol_text_fallback_multi_line_records():
    jobs, running = parse_scontrol_jobs(read("toil_scontrol_show_job_multiline.txt"))
    big, pending = jobs  # the COMPLETED job is left out
    assert (big.id, big.cores, big.running, big.account, big.walltime_s) == (
        "789724",
        20,
        True,
        "rapthor",
        5 * 86400,
    )
    # ReqNodeList=wn-db-05: it waits for that node, which no new node replaces
    assert pending.reason.startswith("ReqNodeNotAvail") and not pending.runnable
    assert running == {"wn-ha-01": 1}


def test_scontrol_partitions_records():
    partitions = {
        r["PartitionName"]: r
        for r in records(read("ood_scontrol_show_partitions_oneliner.txt"), "PartitionName")
    }
    assert len(partitions) == 15
    assert partitions["batch"]["State"] == "INACTIVE" and partitions["dynamic"]["Nodes"] == "(null)"
    assert partitions["hugemem"]["Nodes"] == "o[0809-0824]"


@pytest.mark.parametrize("garbled", ["{not json", "[1, 2]", ""])
def test_garbled_json_is_a_parse_error(garbled):
    with pytest.raises(LRMParseError):
        parse_squeue_json(garbled)


def test_numbers_and_hostlists():
    assert number({"set": True, "infinite": False, "number": 5}) == 5
    assert number({"set": False, "number": 5}) is None and number(7) == 7
    assert expand_hostlist("cn[01-03,7],gpu1") == ["cn01", "cn02", "cn03", "cn7", "gpu1"]
    assert expand_hostlist("") == [] and expand_hostlist("cs75") == ["cs75"]


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("rack[1-2]-n[01-02]", ["rack1-n01", "rack1-n02", "rack2-n01", "rack2-n02"]),
        ("cn[1-2]-ib", ["cn1-ib", "cn2-ib"]),
        ("wn-ca-[01-02],wn-db-[05-06]", ["wn-ca-01", "wn-ca-02", "wn-db-05", "wn-db-06"]),
    ],
)
def test_hostlists_with_several_ranges_and_suffixes(text, hosts):
    assert expand_hostlist(text) == hosts


def test_hostlists_of_real_slurm_output():
    partitions = {
        r["PartitionName"]: r
        for r in records(read("ood_scontrol_show_partitions_oneliner.txt"), "PartitionName")
    }
    assert expand_hostlist(partitions["hugemem"]["Nodes"]) == [f"o{n:04d}" for n in range(809, 825)]
    for name, record in partitions.items():  # Slurm's own count of every partition's hostlist
        nodes = "" if record["Nodes"] == "(null)" else record["Nodes"]
        assert len(expand_hostlist(nodes)) == int(record["TotalNodes"]), name
    allowed = expand_hostlist(partitions["quick"]["AllocNodes"])  # several hostlists, dashes
    assert len(allowed) == 26 and allowed[-3:] == ["webdev09", "owens-rw01", "owens-rw02"]
    grouped = json.loads(read("rivos_sinfo_json_23.02_dp0.0.39_alloc_drain.json"))
    configured = grouped["sinfo"][0]["partition"]["nodes"]
    hosts = expand_hostlist(configured["configured"])
    assert len(hosts) == configured["total"] == 243
    assert hosts[:2] == ["cs11", "cs20"] and hosts[-1] == "cs305"


def test_a_garbled_hostlist_is_a_parse_error():
    with pytest.raises(LRMParseError):
        expand_hostlist("cn[1-")


def test_constraint_features_can_name_the_vo():
    from elastic.vomatch import vo_of
    from tests.factories import make_site

    jobs, _ = parse_squeue_json(read("rivos_squeue_json_21.08_v0.0.37.json"))
    assert jobs[0].features == ("a100-80gb", "preemptible", "gpu-1")
    site = make_site(
        vos=[
            {
                "name": "gpu",
                "match": {"feature": ["a100*"]},
                "flavor": {"cores": 8, "memory_mb": 64000},
            }
        ],
        ec2={"instance_types": {}},
    )
    assert vo_of(jobs[0], site.vos) == "gpu"


def test_adapter_falls_back_to_scontrol_when_json_is_not_supported():
    from lrm_adapters.base import LRMError
    from lrm_adapters.slurm import SlurmAdapter

    class OldSlurm:
        def run(self, argv, **_):
            if "--json" in argv:
                raise LRMError("failed", argv, 1, "squeue: unrecognized option '--json'")
            name = {
                "jobs": "clues_scontrol_o_show_jobs_20.02.txt",
                "nodes": "clues_scontrol_o_show_nodes_20.02.txt",
                "--oneliner": "debian_slurm2205_scontrol_show_reservation_o_empty.txt",
            }[argv[-1]]
            return read(name)

    snapshot = SlurmAdapter(OldSlurm(), []).snapshot()
    assert [j.id for j in snapshot.jobs] == ["2", "3"]
    assert {n.name: n.running_jobs for n in snapshot.nodes} == {"vnode-1": 1, "vnode-2": 0}
