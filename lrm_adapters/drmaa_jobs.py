"""Submit and watch jobs through DRMAA (the ``drmaa`` package) in a DRMAA-capable LRM.

Layer: adapter I/O. DRMAA is what elastic uses for jobs of its own: the
integration tests submit their workloads with it, and a site may require a
per-VO probe job to succeed on a new node before the node counts as ready
(``run_probe``). libdrmaa is loaded from ``DRMAA_LIBRARY_PATH``; under some
Python builds Grid Engine's libdrmaa needs jemalloc preloaded ("cannot allocate
memory in static TLS block"), which only works at process start — so the CLI
entry point here (``python -m lrm_adapters.drmaa_jobs``) is what other
processes call with that environment set.

Grid Engine verifies a job at submission and refuses one that no *current* host
can run; pending work for hosts that do not exist yet is exactly what an
autoscaler is for, so submissions add ``-w n`` (no verification).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    detail: str


def _session() -> Any:
    import drmaa

    session = drmaa.Session()
    session.initialize()
    return session


def submit(
    command: str,
    args: Sequence[str] = (),
    *,
    native: str = "",
    name: str = "elastic",
    count: int = 1,
) -> list[str]:
    """Submit ``command args`` (``count`` > 1: an array job); returns the job ids."""
    session = _session()
    try:
        template = session.createJobTemplate()
        template.remoteCommand = command
        template.args = list(args)
        template.jobName = name
        template.nativeSpecification = f"-w n {native}".strip()
        template.outputPath = ":/dev/null"
        template.joinFiles = True
        if count > 1:
            ids = list(session.runBulkJobs(template, 1, count, 1))
        else:
            ids = [session.runJob(template)]
        session.deleteJobTemplate(template)
        return [str(i) for i in ids]
    finally:
        session.exit()


def run_probe(hostname: str, native: str = "", timeout_s: int = 300) -> ProbeResult:
    """Run ``/bin/true`` on ``hostname`` and wait: did the node run a job end to end?"""
    import drmaa

    session = _session()
    try:
        template = session.createJobTemplate()
        template.remoteCommand = "/bin/true"
        template.jobName = f"elastic-probe-{hostname}"
        template.nativeSpecification = f"-w n -l h={hostname} {native}".strip()
        template.outputPath = ":/dev/null"
        template.joinFiles = True
        job_id = session.runJob(template)
        session.deleteJobTemplate(template)
        try:
            info = session.wait(job_id, timeout_s)
        except drmaa.errors.ExitTimeoutException:
            session.control(job_id, drmaa.JobControlAction.TERMINATE)
            return ProbeResult(False, f"probe job {job_id} did not finish in {timeout_s} s")
        if info.hasExited and info.exitStatus == 0:
            return ProbeResult(True, f"probe job {job_id} ran on {hostname}")
        return ProbeResult(False, f"probe job {job_id} ended with {info.exitStatus}")
    finally:
        session.exit()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lrm_adapters.drmaa_jobs")
    sub = parser.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("submit", help="submit a job; prints the job ids as JSON")
    p.add_argument("--native", default="", help="native specification, e.g. '-P atlas -pe smp 2'")
    p.add_argument("--name", default="elastic")
    p.add_argument("--count", type=int, default=1, help="array job of this many tasks")
    p.add_argument("command")
    p.add_argument("args", nargs="*")
    p = sub.add_parser("probe", help="run a probe job on a host; exit 0 if it succeeded")
    p.add_argument("hostname")
    p.add_argument("--native", default="")
    p.add_argument("--timeout", type=int, default=300)
    args = parser.parse_args(argv)
    if args.verb == "submit":
        ids = submit(args.command, args.args, native=args.native, name=args.name, count=args.count)
        print(json.dumps(ids))
        return 0
    result = run_probe(args.hostname, args.native, args.timeout)
    print(result.detail)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
