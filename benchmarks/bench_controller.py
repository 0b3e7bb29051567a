"""Controller scale: plan() time and peak memory by size, and LRM parser throughput.

Not a test: it prints figures (and writes them as JSON for docs/benchmarks.md).
The run ./scripts/bench makes (``python -m benchmarks.bench_controller [OUT.json]``):
plan() on 100k jobs / 10k nodes under 1 s and 500 MB, and on the biggest pools, 1M pending
jobs (100k distinct jobs and 900 arrays of 1,000 tasks) / 50k nodes / 5k hosts / 100 VOs,
under 2 s and 1 GB; each parser at 100k, 300k and 1M jobs under 10 s at 1M, with the time
ratios between sizes and the parser's working memory (traced peak less the jobs it
returns) at the two smaller sizes, which a stream parser keeps flat as the output grows.
``--quick`` (``./scripts/bench --quick``) stops at 100k jobs: each parser under 2 s.
Memory is tracemalloc's peak of Python allocations made during the call; the input
(observation, output text) is built before tracing starts and is not counted. RSS is not
used: it never shrinks within one process.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import yaml

from elastic.config import parse_site
from elastic.model import Host, Job, LrmNodeState, NodeState, Observation, ProviderKind, WorkerNode
from elastic.planning import plan
from lrm_adapters._stream import decoded
from lrm_adapters.htcondor import iter_long_output, job_from_ad
from lrm_adapters.pbs_parse import parse_qstat_json as parse_pbs_json
from lrm_adapters.pbs_parse import parse_qstat_text as parse_pbs_text
from lrm_adapters.sge_parse import parse_qstat_xml
from lrm_adapters.slurm_parse import parse_squeue_json
from lrm_adapters.slurm_text import parse_scontrol_jobs

SIZES = [  # (jobs, nodes, hosts, vos)
    (1_000, 100, 10, 5),
    (10_000, 1_000, 100, 5),
    (100_000, 10_000, 1_000, 5),
    (100_000, 10_000, 1_000, 50),
]
#: the biggest pools: 1M pending jobs as 100k distinct jobs and 900 arrays of 1,000 tasks
BIG = (1_000_000, 50_000, 5_000, 100)
BIG_DISTINCT, BIG_ARRAYS, BIG_TASKS = 100_000, 900, 1_000
PARSER_SIZES = (10_000, 100_000)
FULL_PARSER_SIZES = (100_000, 300_000, 1_000_000)
CHUNK_BYTES = 1 << 16  # as CommandRunner.stream reads


def full_run() -> bool:
    return "--quick" not in sys.argv[1:]


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
            "instance_types": {f"vo{i}": ["m5.2xlarge"] for i in range(vos)},
            "prices": {"m5.2xlarge": 0.384},
            "max_instances": 100_000,
            "max_hourly_cost": 1e9,
        },
        "policy": {"max_boots_per_pass": 1000},
    }
    return parse_site(yaml.safe_dump(data))


def observation(
    jobs: int,
    nodes: int,
    hosts: int,
    vos: int,
    full: bool = False,
    arrays: tuple[int, int] = (0, 0),
) -> Observation:
    """Jobs, nodes and hosts of the given counts. With ``full``, hosts have no free room and
    only the second half of the VOs has jobs: the first half's idle workers are reclaimed.
    With ``arrays`` (records, tasks each), ``jobs`` distinct jobs plus that many arrays;
    without, every 50th job is an array of 200 tasks."""
    rng = random.Random(7)
    array_records, tasks = arrays

    def vo_of(i: int) -> str:
        return f"vo{vos // 2 + i % (vos - vos // 2)}" if full else f"vo{i % vos}"

    job_list = tuple(
        Job(
            str(i),
            cores=rng.choice([1, 2, 4, 8]),
            memory_mb=rng.randint(500, 16000),
            vo=vo_of(i),
            count=tasks if i >= jobs else 1 if array_records or i % 50 else 200,
        )
        for i in range(jobs + array_records)
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


def chunks_of(records: Iterable[str]) -> list[bytes]:
    """An output as the command runner's stream hands it over: ~64 KB chunks of bytes."""
    out: list[bytes] = []
    batch: list[str] = []
    size = 0
    for record in records:
        batch.append(record)
        size += len(record)
        if size >= CHUNK_BYTES:
            out.append("".join(batch).encode())
            batch, size = [], 0
    if batch:
        out.append("".join(batch).encode())
    return out


def sge_xml(n: int) -> list[bytes]:
    head = "<?xml version='1.0'?><job_info><queue_info></queue_info><job_info>"
    body = (
        f"<job_list state='pending'><JB_job_number>{i}</JB_job_number><JB_owner>u{i % 97}"
        f"</JB_owner><JB_project>vo{i % 5}</JB_project><state>qw</state><slots>4</slots>"
        f"<requested_pe name='smp'>4</requested_pe><hard_request name='h_vmem'>2G"
        "</hard_request></job_list>"
        for i in range(n)
    )
    return chunks_of([head, *body, "</job_info></job_info>"])


def scontrol_jobs(n: int) -> list[bytes]:
    """``scontrol -o show jobs`` lines, trimmed to the fields the parser reads and a few more."""
    return chunks_of(
        f"JobId={i} JobName=job{i} UserId=u{i % 97}(1{i % 97:03}) GroupId=g(100) "
        f"Priority=4294901759 Account=vo{i % 5} QOS=normal JobState=PENDING Reason=Priority "
        "Dependency=(null) TimeLimit=01:00:00 SubmitTime=2026-01-01T00:00:00 "
        "StartTime=Unknown Partition=batch ReqNodeList=(null) NodeList=(null) NumNodes=1 "
        "NumCPUs=4 NumTasks=1 CPUs/Task=4 MinMemoryNode=8000M Features=(null)\n"
        for i in range(n)
    )


def pbs_text(n: int) -> list[bytes]:
    """``qstat -f`` blocks (Torque, OpenPBS)."""
    return chunks_of(
        f"Job Id: {i}.server\n    Job_Name = job{i}\n    Job_Owner = u{i % 97}@h\n"
        "    job_state = Q\n    queue = workq\n    Resource_List.ncpus = 4\n"
        "    Resource_List.mem = 8gb\n    Resource_List.select = 1:ncpus=4\n"
        "    Resource_List.walltime = 01:00:00\n    qtime = Thu Jan  1 00:00:00 2026\n\n"
        for i in range(n)
    )


def condor_ads(n: int) -> list[bytes]:
    return chunks_of(
        f"ClusterId = {i}\nProcId = 0\nJobStatus = 1\nRequestCpus = 4\nRequestMemory = 8000\n"
        f'AcctGroup = "vo{i % 5}"\nOwner = "u{i % 97}"\n\n'
        for i in range(n)
    )


def slurm_json(n: int) -> list[bytes]:
    """``squeue --json`` (v0.0.39+ shapes), the text ``json.dumps`` of the whole gives."""
    jobs = (
        json.dumps(
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
        )
        for i in range(n)
    )
    return chunks_of(['{"jobs": [', *_joined(jobs), "]}"])


def pbs_json(n: int) -> list[bytes]:
    """OpenPBS ``qstat -f -F json``, the text ``json.dumps`` of the whole gives."""
    jobs = (
        f'"{i}.server": '
        + json.dumps(
            {
                "job_state": "Q",
                "queue": "workq",
                "Job_Owner": f"u{i % 97}@h",
                "Resource_List": {"ncpus": 4, "mem": "8gb", "select": "1:ncpus=4"},
            }
        )
        for i in range(n)
    )
    return chunks_of(['{"Jobs": {', *_joined(jobs), "}}"])


def _joined(members: Iterable[str]) -> Iterator[str]:
    """JSON members with ``json.dumps``'s ", " between them."""
    for i, member in enumerate(members):
        yield f", {member}" if i else member


def parse_condor(chunks: list[bytes]) -> list[Job]:
    return [job_from_ad(ad) for ad in iter_long_output(decoded(chunks))]


def texts(parse: Callable[[Iterator[str]], Any]) -> Callable[[list[bytes]], Any]:
    """A text parser fed bytes chunks, decoded as they come (what the adapters do)."""
    return lambda chunks: parse(decoded(chunks))


@dataclass(frozen=True)
class Parser:
    name: str
    make: Callable[[int], Any]  # jobs -> the output, as ~64 KB chunks of bytes
    parse: Callable[[Any], object]
    #: fed chunk by chunk (CommandRunner.stream), as every parser now is
    streamed: bool


PARSERS = [
    Parser("SGE qstat -xml", sge_xml, parse_qstat_xml, True),
    Parser("Slurm scontrol -o", scontrol_jobs, texts(parse_scontrol_jobs), True),
    Parser("PBS qstat -f", pbs_text, texts(parse_pbs_text), True),
    Parser("HTCondor -long", condor_ads, parse_condor, True),
    Parser("Slurm squeue --json", slurm_json, texts(parse_squeue_json), True),
    Parser("PBS qstat -F json", pbs_json, texts(parse_pbs_json), True),
]


def output_mb(output: Any) -> float:
    return (len(output) if isinstance(output, str) else sum(map(len, output))) / 1e6


def traced(fn: Callable[[], object]) -> tuple[float, float]:
    """Peak MB of the call's allocations, and MB still held by what it returned."""
    gc.collect()
    tracemalloc.start()
    result = fn()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    return peak / 1e6, kept / 1e6


def bench_parser(parser: Parser, size: int, repeats: int) -> dict[str, Any]:
    """Timed runs, one process, nothing else running: two parsers timed at once on 2
    cores each took 10-45 % longer (measured), so only the traced runs share the cores."""
    output = parser.make(size)
    times = []
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        parser.parse(output)
        times.append(time.perf_counter() - started)
    return {
        "parser": parser.name,
        "jobs": size,
        "seconds": statistics.median(times),
        "peak_mb": None,
        "kept_mb": None,
        "working_mb": None,
        "output_mb": output_mb(output),
        "streamed": parser.streamed,
    }


def traced_parse(index: int, size: int) -> tuple[float, float]:
    """Peak and kept MB of ``PARSERS[index]`` at ``size``, in a worker process: a traced run
    takes 4-8x a timed one, so these share the cores while nothing is timed."""
    parser = PARSERS[index]
    output = parser.make(size)
    return traced(lambda: parser.parse(output))


def plan_row(
    jobs: int, nodes: int, hosts: int, vos: int, full: bool, arrays: tuple[int, int]
) -> dict[str, Any]:
    obs, site = observation(jobs, nodes, hosts, vos, full, arrays), site_for(vos)
    seconds, peak = measure(lambda: plan(obs, site, 1e6))
    pending = sum(j.count for j in obs.jobs)
    return {
        "jobs": pending,
        "job_records": len(obs.jobs),
        "nodes": nodes,
        "hosts": hosts,
        "vos": vos,
        "hosts_full": full,
        "seconds": seconds,
        "peak_mb": peak,
    }


def print_plan(row: dict[str, Any]) -> None:
    print(
        f"  {row['jobs']:>7} jobs {row['nodes']:>6} nodes {row['hosts']:>5} hosts "
        f"{row['vos']:>3} VOs: {row['seconds'] * 1000:8.1f} ms  {row['peak_mb']:7.1f} MB  "
        f"growth {row['growth']}"
    )


def main(out: Path | None = None, full: bool | None = None, workers: int = 1) -> dict[str, Any]:
    full = full_run() if full is None else full
    report: dict[str, Any] = {"full": full, "plan": [], "parsers": [], "memory": "tracemalloc"}
    print("plan(): median of 5 runs, tracemalloc peak of one traced run")
    previous = None
    for jobs, nodes, hosts, vos, hosts_full in [
        *((*size, False) for size in SIZES),
        (*SIZES[-1], True),
    ]:
        row = plan_row(jobs, nodes, hosts, vos, hosts_full, (0, 0))
        seconds = row["seconds"]
        row["growth"] = (
            "hosts full" if hosts_full else f"{seconds / previous:.1f}x" if previous else "-"
        )
        previous = seconds
        print_plan(row)
        report["plan"].append(row)
    big = [r for r in report["plan"] if r["job_records"] == 100_000 and r["nodes"] == 10_000]
    report["plan_target_met"] = all(r["seconds"] < 1.0 and r["peak_mb"] < 500 for r in big)
    print(
        f"  target (100k jobs / 10k nodes < 1 s, < 500 MB): "
        f"{'MET' if report['plan_target_met'] else 'MISSED'}"
    )
    if full:
        _, nodes, hosts, vos = BIG
        rows = []
        for hosts_full in (False, True):
            row = plan_row(BIG_DISTINCT, nodes, hosts, vos, hosts_full, (BIG_ARRAYS, BIG_TASKS))
            row["growth"] = "1M, hosts full" if hosts_full else "1M"
            print_plan(row)
            rows.append(row)
        report["plan"].extend(rows)
        met = all(r["seconds"] < 2.0 and r["peak_mb"] < 1000 for r in rows)
        report["plan_1m_target_met"] = met
        print(
            f"  target (1M jobs / 50k nodes / 5k hosts / 100 VOs < 2 s, < 1 GB): "
            f"{'MET' if met else 'MISSED'}"
        )
    sizes = FULL_PARSER_SIZES if full else PARSER_SIZES
    # memory traced at the two smaller sizes only: a traced run takes 4-8x a timed one,
    # and at 1M the six took about 250 s of a 15-minute bench (measured)
    traced_sizes = sizes[:2]
    print(
        "parsers: one timed run each, one at a time; working MB = tracemalloc peak less the"
        f" jobs returned, traced at {' and '.join(f'{n // 1000}k' for n in traced_sizes)},"
        f" {workers} at a time"
    )
    report["trace_workers"] = workers
    timed = [[bench_parser(parser, size, 1) for size in sizes] for parser in PARSERS]
    ends = [(index, size) for index in range(len(PARSERS)) for size in traced_sizes]
    with ProcessPoolExecutor(workers) as pool:
        memory = dict(zip(ends, pool.map(traced_parse, *zip(*ends, strict=True)), strict=True))
    report["parser_targets"] = {}
    for index, (parser, rows) in enumerate(zip(PARSERS, timed, strict=True)):
        for row in rows:
            if (index, row["jobs"]) in memory:
                peak, kept = memory[index, row["jobs"]]
                # what parsing needed beyond the jobs it returns
                row.update(peak_mb=peak, kept_mb=kept, working_mb=peak - kept)
        report["parsers"].extend(rows)
        report["parser_targets"][parser.name] = parser_verdict(parser, rows, full)
    if out is not None:
        out.write_text(json.dumps(report, indent=2))
    return report


def mb(value: float | None) -> str:
    return "     -" if value is None else f"{value:6.1f}"


def parser_verdict(parser: Parser, rows: list[dict[str, Any]], full: bool) -> dict[str, Any]:
    """Print one parser's sizes and its targets; time < 10 s at 1M (2 s at 100k with
    ``--quick``), time ratios no worse than 1.3x the size ratios, working memory flat
    (the largest traced size's within 1.5x and 20 MB of the smallest's) for a stream
    parser."""
    limit = 10.0 if full else 2.0
    growth = [b["seconds"] / a["seconds"] for a, b in pairwise(rows)]
    steps = [b["jobs"] / a["jobs"] for a, b in pairwise(rows)]
    linear = all(g <= 1.3 * s for g, s in zip(growth, steps, strict=True))
    traced = [r["working_mb"] for r in rows if r["working_mb"] is not None]
    first, last = traced[0], traced[-1]
    flat = last <= 1.5 * first + 20
    fast = rows[-1]["seconds"] < limit
    cells = "  ".join(
        f"{r['jobs'] // 1000}k: {r['seconds']:6.2f} s "
        f"{mb(r['working_mb'])}/{r['output_mb']:5.0f} MB"
        for r in rows
    )
    ratios = " ".join(f"{g:.1f}x/{s:.1f}x" for g, s in zip(growth, steps, strict=True))
    print(f"  {parser.name:<20} {cells}  (working/output MB)")
    print(
        f"  {'':<20} growth {ratios} (time/size): {'near-linear' if linear else 'NOT linear'}; "
        f"< {limit:g} s at {rows[-1]['jobs'] // 1000}k: {'MET' if fast else 'MISSED'}; "
        f"memory flat: {'MET' if flat else 'MISSED'}"
        + ("" if parser.streamed else " (the output read whole)")
    )
    return {"fast": fast, "near_linear": linear, "memory_flat": flat, "growth": growth}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--quick"]
    main(Path(args[0]) if args else None)
