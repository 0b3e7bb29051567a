"""HTCondor on real condor_q / condor_status outputs, through a fake query layer."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import classad2
import pytest

from elastic.model import LrmNodeState
from elastic.planning.demand import freeing_cores
from elastic.vomatch import label_snapshot
from lrm_adapters.base import LRMParseError
from lrm_adapters.htcondor import (
    JOB_ATTRS,
    SLOT_ATTRS,
    HTCondorAdapter,
    job_from_ad,
    nodes_from_ads,
    parse_long_output,
)
from tests.factories import make_site

FIXTURES = Path(__file__).parent.parent / "fixtures" / "htcondor"


def ads(name: str, parser=None) -> list:
    text = (FIXTURES / name).read_text()
    return list(classad2.parseAds(text, parser)) if parser else parse_long_output(text)


def json_ads(name: str) -> list:
    """condor_q -json objects need '/' escaped before classad2 reads them as JSON."""
    data = json.loads((FIXTURES / name).read_text())
    return [
        classad2.parseOne(json.dumps(o).replace("/", "\\/"), classad2.ParserType.JSON) for o in data
    ]


def test_idle_grid_job_with_an_expression_for_memory():
    (job,) = [job_from_ad(a) for a in ads("htcondor_q_long_ce_job_x509.txt")]
    assert (job.id, job.cores, job.memory_mb, job.user, job.runnable) == (
        "15.0",
        1,
        1,
        "bbockelm",
        True,
    )


def test_held_job_is_not_demand():
    (job,) = [job_from_ad(a) for a in ads("clues_job_held_newclassad.txt")]
    assert job.runnable is False and "condor_shadow" in job.reason


def test_condor_q_json_running_job():
    (job,) = [job_from_ad(a) for a in json_ads("clas12_condor_q_nobatch_json_one_job_8.8.json")]
    assert (job.id, job.running, job.memory_mb, job.user) == ("3472942.81", True, 1741, "gemc")
    assert (job.start_time, job.walltime_s) == (1617115471.0, None)  # no enforced limit


def test_a_running_job_with_an_enforced_duration_tells_when_it_frees_its_cores():
    ad = classad2.ClassAd(
        {
            "ClusterId": 9,
            "ProcId": 2,
            "JobStatus": 2,
            "RequestCpus": 8,
            "AcctGroup": "atlas",
            "JobCurrentStartDate": 1_700_000_000,
            "AllowedJobDuration": 7200,
        }
    )
    job = job_from_ad(ad)
    assert (job.running, job.cores, job.start_time, job.walltime_s) == (
        True,
        8,
        1_700_000_000.0,
        7200,
    )
    assert freeing_cores([replace(job, vo="atlas")], 1_700_007_000.0, 300) == {"atlas": 8}


def test_partitionable_slot_with_dynamic_children():
    (node,) = nodes_from_ads(ads("htcondor_status_long_partitionable8core.txt"))
    assert (node.name, node.cores, node.running_jobs, node.state) == (
        "ingwe.cs.wisc.edu",
        8,
        4,
        LrmNodeState.BUSY,
    )


def test_static_slots_and_idle_startd():
    (four,) = nodes_from_ads(ads("htcondor_status_long_basic4slot.txt"))
    assert (four.cores, four.running_jobs) == (4, 2)
    (idle,) = nodes_from_ads(ads("clues_startd_slot_newclassad.txt"))
    assert (idle.name, idle.state, idle.cores) == ("wn1.condor.vagrant", LrmNodeState.IDLE, 1)


def test_condor_status_xml_glideins():
    nodes = nodes_from_ads(
        ads("glideinwms_condor_status_xml_glideins.xml", classad2.ParserType.XML)
    )
    assert [(n.name, n.cores, n.running_jobs) for n in nodes] == [
        ("alg01-eth.local", 1, 1),
        ("alg02-eth.local", 4, 4),
        ("alg08-eth.local", 2, 1),
    ]


class FakeQuery:
    def __init__(self, jobs, slots) -> None:
        self.jobs, self.slots, self.drained = jobs, slots, []

    def queue_jobs(self):
        return self.jobs

    def startd_ads(self):
        return self.slots

    def drain(self, machine, reason):
        self.drained.append(machine)


def test_adapter_maps_accounting_groups_and_proxy_vo_to_vos():
    job = classad2.ClassAd(
        {
            "ClusterId": 7,
            "ProcId": 0,
            "JobStatus": 1,
            "RequestCpus": 4,
            "RequestMemory": 2000,
            "AccountingGroup": "group_atlas.alice",
        }
    )
    proxy = classad2.ClassAd(
        {"ClusterId": 8, "ProcId": 1, "JobStatus": 1, "x509UserProxyVOName": "cms"}
    )
    vos = make_site(
        vos=[
            {
                "name": "atlas",
                "match": {"account": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
            },
            {
                "name": "cms",
                "match": {"project": ["cms"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
            },
        ],
        ec2={"instance_types": {}},
    ).vos
    slot = classad2.ClassAd(
        {
            "Name": "slot1@w1",
            "Machine": "w1",
            "SlotType": "Static",
            "Cpus": 4,
            "Memory": 8000,
            "State": "Unclaimed",
            "ElasticNodeId": "t-atlas-00001",
            "ElasticVO": "atlas",
        }
    )
    query = FakeQuery([job, proxy], [slot])
    adapter = HTCondorAdapter(query)
    snapshot = label_snapshot(adapter.snapshot(), vos)  # as the engine does
    assert [(j.id, j.vo, j.cores, j.memory_mb) for j in snapshot.jobs] == [
        ("7.0", "atlas", 4, 2000),
        ("8.1", "cms", 1, 0),
    ]
    assert [(n.name, n.vo, n.state) for n in snapshot.nodes] == [
        ("t-atlas-00001", "atlas", LrmNodeState.IDLE)
    ]
    adapter.drain_node("t-atlas-00001", "idle")
    adapter.drain_node("unknown", "idle")
    assert query.drained == ["t-atlas-00001"]


def test_a_failing_query_is_an_lrm_error():
    class Broken(FakeQuery):
        def queue_jobs(self):
            raise RuntimeError("Failed to connect to schedd")

    with pytest.raises(LRMParseError, match="Failed to connect"):
        HTCondorAdapter(Broken([], [])).snapshot()


def test_garbled_long_output_is_a_parse_error():
    with pytest.raises(LRMParseError, match="unreadable ClassAd"):
        parse_long_output("[[[ not a ClassAd")


class _Recording(dict[str, object]):
    """An ad that notes every attribute read: the bindings return only the projection."""

    def __init__(self, values: dict[str, object]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> object:
        self.read.add(key)
        return super().__getitem__(key)


def test_the_queries_project_every_attribute_the_readers_use():
    """A projection without an attribute the reader uses loses it silently (a running job's
    RemoteHost went missing this way, so its worker had no end for a reservation's drain)."""
    running = _Recording(
        {
            "ClusterId": 7,
            "ProcId": 0,
            "JobStatus": 2,
            "RemoteHost": "slot1_1@wn-1",
            "AllowedJobDuration": 600,
            "JobCurrentStartDate": 1000,
            "AccountingGroup": "group_cms.u",
        }
    )
    held = _Recording({"ClusterId": 8, "JobStatus": 5, "HoldReason": "x"})
    job = job_from_ad(running)
    job_from_ad(held)
    assert job.hosts == ("wn-1",)
    assert running.read | held.read <= set(JOB_ATTRS)
    slot = _Recording({"Machine": "wn-1", "State": "Unclaimed", "Cpus": 4, "Memory": 8000})
    nodes_from_ads([slot])
    assert slot.read <= set(SLOT_ATTRS)
