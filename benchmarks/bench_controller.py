"""Controller scale: plan() time and peak memory by size, and LRM parser throughput.

Not a test: it prints figures (and writes them as JSON for docs/benchmarks.md).
Targets: plan() on 100k jobs / 10k nodes under 1 s and 500 MB; each parser
under 2 s for 100k jobs; near-linear growth (the ratio between sizes is printed).
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from elastic.config import parse_site
from elastic.model import Host, Job, LrmNodeState, NodeState, Observation, ProviderKind, WorkerNode
from elastic.planning import plan
from lrm_adapters.htcondor import job_from_ad, parse_long_output
from lrm_adapters.pbs_parse import parse_qstat_json as parse_pbs_json
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_parse import parse_squeue_json

SIZES = [  # (jobs, nodes, hosts, vos)
    (1_000, 100, 10, 5),
    (10_000, 1_000, 100, 5),
    (100_000, 10_000, 1_000, 5),
    (100_000, 10_000, 1_000, 50),
]


def site_for(vos: int) -> Any:
    data = {
        "site": {"name": "scale"},
        "lrm": {"kind": "sge"},
        "vos": [
            {
                "name": f"vo{i}",
                "match": {"project": [f"vo{i}"]},
                "flavor": {"cores": 8, "memory_mb": 32000},
                "image": {"libvirt": "base", "ec2": "ami-1"},
                "max_nodes": 100_000,
                "share": 1 + i % 3,
                "cloud": {"allowed": True, "max_nodes": 10_000, "max_hourly_cost": 1e6},
            }
            for i in range(vos)
        ],
        "ec2": {
            "instance_types": {f"vo{i}": ["c5.2xlarge"] for i in range(vos)},
            "prices": {"c5.2xlarge": 0.34},
            "max_instances": 100_000,
            "max_hourly_cost": 1e9,
        },
        "policy": {"max_boots_per_pass": 1000},
    }
    return parse_site(yaml.safe_dump(data))


def observation(jobs: int, nodes: int, hosts: int, vos: int, full: bool = False) -> Observation:
    """Jobs, nodes and hosts of the given counts. With ``full``, hosts have no free room and
    only the second half of the VOs has jobs: the first half's idle workers are reclaimed."""
    rng = random.Random(7)
    job_list = tuple(
        Job(
            str(i),
            cores=rng.choice([1, 2, 4, 8]),
            memory_mb=rng.randint(500, 16000),
            vo=f"vo{vos // 2 + i % (vos - vos // 2)}" if full else f"vo{i % vos}",
            count=1 if i % 50 else 200,
        )
        for i in range(jobs)
    )
    node_list = tuple(
        WorkerNode(
            id=f"n{i}",
            vo=f"vo{i % vos}",
            provider=ProviderKind.LIBVIRT if i % 3 else ProviderKind.EC2,
            location=f"h{i % hosts}",
            state=NodeState.READY,
            lrm_state=LrmNodeState.IDLE if i % 4 == 0 else LrmNodeState.BUSY,
            cores=8,
            memory_mb=32000,
            created_at=0.0,
            state_since=0.0,
            running_jobs=0 if i % 4 == 0 else 2,
            idle_since=0.0,
            hourly_cost=0.34 if i % 3 == 0 else 0.0,
        )
        for i in range(nodes)
    )
    free_cores, free_memory = (0, 0) if full else (16, 64_000)
    host_list = tuple(Host(f"h{i}", 128, 512_000, free_cores, free_memory) for i in range(hosts))
    return Observation(job_list, node_list, host_list)


def measure(fn: Callable[[], object], repeats: int = 5) -> tuple[float, float]:
    """Median seconds over ``repeats`` runs, then peak MB of one traced run."""
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    return statistics.median(times), peak


def sge_xml(n: int) -> bytes:
    parts = ["<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>"]
    for i in range(n):
        parts.append(
            f"<job_list state='pending'><JB_job_number>{i}</JB_job_number><JB_owner>u{i % 97}"
            f"</JB_owner><JB_project>vo{i % 5}</JB_project><state>qw</state><slots>4</slots>"
            f"<requested_pe name='smp'>4</requested_pe><hard_request name='h_vmem'>2G"
            "</hard_request></job_list>"
        )
    parts.append("</job_info></job_info>")
    return "".join(parts).encode()


def slurm_json(n: int) -> str:
    return json.dumps(
        {
            "jobs": [
                {
                    "job_id": i,
                    "job_state": ["PENDING"],
                    "state_reason": "Priority",
                    "cpus": {"set": True, "infinite": False, "number": 4},
                    "node_count": {"set": True, "infinite": False, "number": 1},
                    "memory_per_node": {"set": True, "infinite": False, "number": 8000},
                    "account": f"vo{i % 5}",
                    "partition": "batch",
                    "user_name": f"u{i % 97}",
                }
                for i in range(n)
            ]
        }
    )


def pbs_json(n: int) -> str:
    return json.dumps(
        {
            "Jobs": {
                f"{i}.server": {
                    "job_state": "Q",
                    "queue": "workq",
                    "Job_Owner": f"u{i % 97}@h",
                    "Resource_List": {"ncpus": 4, "mem": "8gb", "select": "1:ncpus=4"},
                }
                for i in range(n)
            }
        }
    )


def condor_ads(n: int) -> str:
    return "\n".join(
        f"ClusterId = {i}\nProcId = 0\nJobStatus = 1\nRequestCpus = 4\nRequestMemory = 8000\n"
        f'AcctGroup = "vo{i % 5}"\nOwner = "u{i % 97}"\n'
        for i in range(n)
    )


def parse_condor(text: str) -> list[Job]:
    return [job_from_ad(ad) for ad in parse_long_output(text)]


PARSERS: dict[str, tuple[Callable[[int], Any], Callable[[Any], object]]] = {
    "SGE qstat -xml": (sge_xml, parse_qstat_xml),
    "Slurm squeue --json": (slurm_json, parse_squeue_json),
    "PBS qstat -F json": (pbs_json, parse_pbs_json),
    "HTCondor ClassAds": (condor_ads, parse_condor),
}


def main(out: Path | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {"plan": [], "parsers": []}
    print("plan(): median of 5 runs, peak memory of one traced run")
    previous = None
    for jobs, nodes, hosts, vos, full in [*((*size, False) for size in SIZES), (*SIZES[-1], True)]:
        obs, site = observation(jobs, nodes, hosts, vos, full), site_for(vos)
        seconds, peak = measure(lambda obs=obs, site=site: plan(obs, site, 1e6))
        ratio = "hosts full" if full else f"{seconds / previous:.1f}x" if previous else "-"
        previous = seconds
        print(
            f"  {jobs:>7} jobs {nodes:>6} nodes {hosts:>5} hosts {vos:>3} VOs: "
            f"{seconds * 1000:8.1f} ms  {peak:7.1f} MB  growth {ratio}"
        )
        report["plan"].append(
            {
                "jobs": jobs,
                "nodes": nodes,
                "hosts": hosts,
                "vos": vos,
                "seconds": seconds,
                "peak_mb": peak,
                "growth": ratio,
            }
        )
    big = [r for r in report["plan"] if r["jobs"] == 100_000 and r["nodes"] == 10_000]
    report["plan_target_met"] = all(r["seconds"] < 1.0 and r["peak_mb"] < 500 for r in big)
    print(
        f"  target (100k jobs / 10k nodes < 1 s, < 500 MB): "
        f"{'MET' if report['plan_target_met'] else 'MISSED'}"
    )
    print("parsers: median of 3 runs")
    for name, (make, parse) in PARSERS.items():
        times = []
        for size in (10_000, 100_000):
            text = make(size)
            seconds, peak = measure(lambda text=text, parse=parse: parse(text), repeats=3)
            times.append(seconds)
            report["parsers"].append(
                {"parser": name, "jobs": size, "seconds": seconds, "peak_mb": peak}
            )
        met = times[1] < 2.0
        print(
            f"  {name:<22} 10k: {times[0]:6.3f} s  100k: {times[1]:6.3f} s  growth "
            f"{times[1] / times[0]:.1f}x  target <2 s: {'MET' if met else 'MISSED'}"
        )
    if out is not None:
        out.write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
