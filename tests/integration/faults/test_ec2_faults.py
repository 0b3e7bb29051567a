"""Issue 10's cloud faults with EC2 on a real moto_server (the replay LRM plays the jobs):
instances stopped or ended behind elastic's back, a bad AMI, a frozen endpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from elastic.model import NodeState, ProviderKind
from elastic.providers.ec2 import Ec2Provider
from tests.factories import make_site
from tests.worlds import Clock, replay_engine

pytestmark = [pytest.mark.ec2]
REPO = Path(__file__).resolve().parents[3]
AMI = "ami-1e749f67"  # in moto's image list


def cloud_site(tmp_path: Path, endpoint: str, image: str = AMI, **policy: Any):
    return make_site(
        site={"name": "cf", "state": str(tmp_path / "ledger.db")},
        vos=[
            {
                "name": "atlas",
                "match": {"project": ["atlas"]},
                "flavor": {"cores": 4, "memory_mb": 8000},
                "image": {"ec2": image},
                "max_nodes": 4,
                "cloud": {"allowed": True, "max_nodes": 4, "max_hourly_cost": 5.0},
            }
        ],
        local={"hosts": []},
        ec2={
            "endpoint_url": endpoint,
            "region": "us-east-1",
            "instance_types": {"atlas": ["c5.xlarge"]},
            "prices": {"c5.xlarge": 0.2},
            "max_instances": 4,
        },
        policy={"idle_timeout_cloud_s": 36000, **policy},
    )


def world(tmp_path: Path, endpoint: str, jobs: list[dict[str, Any]], **kw: Any):
    site = cloud_site(tmp_path, endpoint, **kw)
    clock = Clock(3_000_000.0)
    provider = Ec2Provider(site)
    engine = replay_engine(site, tmp_path, jobs, {ProviderKind.EC2: provider}, clock)
    return engine, clock, provider


def ec2(endpoint: str):
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=endpoint)


def live(endpoint: str) -> dict[str, str]:
    """elastic:node -> instance id, for the site's instances that are not ended."""
    found = {}
    pages = ec2(endpoint).describe_instances(
        Filters=[{"Name": "tag:elastic:site", "Values": ["cf"]}]
    )["Reservations"]
    for reservation in pages:
        for instance in reservation["Instances"]:
            if instance["State"]["Name"] in {"terminated", "shutting-down"}:
                continue
            tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
            found[tags["elastic:node"]] = instance["InstanceId"]
    return found


def test_instances_stopped_or_ended_behind_our_back_fail_their_nodes_at_once(tmp_path, moto):
    job = {"id": "a", "project": "atlas", "cores": 4, "count": 2, "runtime_s": 100}
    engine, clock, _ = world(tmp_path, moto, [job])
    engine.run_pass()
    clock.now += 200
    engine.run_pass()  # joined, running their jobs
    clock.now += 200
    engine.run_pass()  # the jobs are done: idle
    (stopped, s_id), (ended, e_id) = sorted(live(moto).items())
    assert {engine.ledger.get(n).state for n in (stopped, ended)} == {NodeState.READY}
    ec2(moto).stop_instances(InstanceIds=[s_id])
    ec2(moto).terminate_instances(InstanceIds=[e_id])  # as a spot reclaim ends it
    clock.now += 60
    result = engine.run_pass()
    events = {e.node_id: e.message for e in engine.ledger.events(100) if e.kind == "reconcile"}
    assert "not running" in events[stopped] and "ended" in events[ended]
    # failed at once, not after an idle or boot timeout; empty, so destroyed in this pass
    assert {d.node_id for d in result.plan.destroys} == {stopped, ended}
    assert live(moto) == {}  # the stopped instance is terminated, no longer parked
    assert {engine.ledger.get(n).state for n in (stopped, ended)} == {NodeState.GONE}


def test_a_bad_ami_backs_off_instead_of_booting_every_pass(tmp_path, moto):
    job = {"id": "a", "project": "atlas", "cores": 4, "count": 2, "runtime_s": 10_000}
    engine, clock, provider = world(tmp_path, moto, [job], image="ami-00000bad")
    attempts = []
    provider.client.meta.events.register(
        "before-send.ec2.RunInstances", lambda **_: attempts.append(1)
    )
    degraded = []
    for _ in range(20):
        degraded.append(engine.run_pass().degraded)
        clock.now += 60
    # before: 2 boots each of the 20 passes (40); now one failing pass per backoff period
    # (measured: 10 calls, at 0, 60, 180, 420 and 900 s)
    assert 2 <= len(attempts) <= 12, len(attempts)
    assert all(degraded)  # also the passes that only clean up or wait: exit 4
    (backoff,) = engine.ledger.backoffs()
    assert backoff.failures >= 3 and "InvalidAMI" in backoff.last_error
    assert live(moto) == {}


def test_a_frozen_endpoint_ends_run_once_within_its_bound(tmp_path):
    """A server that accepts and never answers: botocore would wait minutes per call;
    the observation deadline abandons it and the process exits (exit 4)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.getsockname()[1]}"
    site = cloud_site(tmp_path, endpoint).model_dump(mode="json", exclude={"source"})
    site["ec2"].update(read_timeout_s=600, connect_timeout_s=5, max_attempts=8)
    site["lrm"] = {"kind": "replay", "workload": "jobs.yaml", "timeout_s": 2}
    site["site"]["state"] = "ledger.db"
    (tmp_path / "jobs.yaml").write_text(
        yaml.safe_dump(
            {"jobs": [{"id": "a", "project": "atlas", "cores": 4, "count": 1, "runtime_s": 100}]}
        )
    )
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(site))
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "elastic.cli", "--config", str(tmp_path / "site.yaml"), "run-once"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    took = time.monotonic() - started
    stop.set()
    assert done.returncode == 4, done.stderr[-2000:]
    assert "no answer within" in done.stderr
    # bound: observe (lrm.timeout_s + 5 s) + interpreter start; never botocore's minutes
    assert took < 60, took
    assert not (tmp_path / "ledger.db.lock").exists() or _unlocked(tmp_path / "ledger.db.lock")


def _unlocked(path: Path) -> bool:
    from filelock import FileLock

    lock = FileLock(str(path))
    lock.acquire(timeout=1)  # the exited process let go of it
    lock.release()
    return True
