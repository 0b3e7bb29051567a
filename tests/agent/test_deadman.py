"""The dead-man switch agent (templates/agent/elastic-deadman.py), run as the real file
with the image's python3 against an IMDSv2 stand-in on 127.0.0.1; shutdown, the drain and
the busy check are recorders. Issue 10: "Node-side dead-man switch (cloud workers)"."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.standin import HEARTBEAT, REBALANCE, SPOT, Imds, Node, imds_standin, recorder

IDLE_LONG = {"first_seen": 8000, "last_busy": 4000}  # idle 4000 s > self_retire_idle_s 1800
OFF = ["shutdown", "-h", "now"]


@pytest.fixture
def imds() -> Iterator[Imds]:
    with imds_standin() as standin:
        yield standin


def node(tmp_path: Path, imds: Imds, **config: object) -> Node:
    return Node(tmp_path, imds.url, **config)


def beat(imds: Imds, age_s: float) -> None:
    imds.values[HEARTBEAT] = str(int(time.time() - age_s))


def young(tmp_path: Path, imds: Imds, **config: object) -> Node:
    """A node up 100 s, busy until then, with a fresh heartbeat: no rule retires it."""
    worker = node(tmp_path, imds, **config)
    worker.set_state(first_seen=100, last_busy=100)
    beat(imds, 30)
    return worker


def test_idle_with_a_stale_heartbeat_powers_off_after_draining(tmp_path, imds):
    worker = node(tmp_path, imds)
    worker.set_state(**IDLE_LONG)
    beat(imds, 2000)
    done = worker.run()
    assert done.returncode == 0, done.stderr
    assert worker.calls("poweroff") == [OFF]
    (drain,) = worker.calls("drain")  # drained first: no job may land before the power-off
    assert drain[:3] == ["qmod", "-d", "*@t-atlas-00001"] and "heartbeat" in drain[3]
    assert len(worker.calls("busy")) == 2  # checked again after the drain
    assert "retiring this node" in done.stderr
    # IMDSv2: a token first, and every read carries it
    assert imds.requests[0][:2] == ("PUT", "/latest/api/token")
    assert all(token for method, _, token in imds.requests if method == "GET")


def test_idle_with_a_fresh_heartbeat_keeps_running(tmp_path, imds):
    worker = node(tmp_path, imds)
    worker.set_state(**IDLE_LONG)
    beat(imds, 60)
    done = worker.run()
    assert done.returncode == 0, done.stderr
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert worker.calls("busy") == [[]]


def test_busy_with_a_stale_heartbeat_keeps_running_and_counts_as_busy(tmp_path, imds):
    worker = node(tmp_path, imds, busy_command=recorder(tmp_path, "busy", "0"))
    worker.set_state(**IDLE_LONG)
    beat(imds, 5000)
    before = time.time()
    assert worker.run().returncode == 0
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert worker.state()["last_busy"] >= before  # idle time starts again


def test_idle_not_long_enough_with_a_stale_heartbeat_keeps_running(tmp_path, imds):
    worker = node(tmp_path, imds)
    worker.set_state(first_seen=8000, last_busy=600)  # idle 600 s < 1800 s
    beat(imds, 5000)
    assert worker.run().returncode == 0
    assert worker.calls("poweroff") == []


def test_a_busy_check_that_fails_counts_as_busy(tmp_path, imds):
    worker = node(tmp_path, imds, busy_command=recorder(tmp_path, "busy", "2"))
    worker.set_state(**IDLE_LONG)
    beat(imds, 5000)
    before = time.time()
    done = worker.run()
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert worker.state()["last_busy"] >= before
    assert "counted as busy" in done.stderr


def test_a_job_that_arrives_while_retiring_stops_the_power_off(tmp_path, imds):
    idle_then_busy = recorder(tmp_path, "busy", "1,0")
    worker = node(tmp_path, imds, busy_command=idle_then_busy)
    worker.set_state(**IDLE_LONG)
    beat(imds, 5000)
    done = worker.run()
    assert len(worker.calls("drain")) == 1 and len(worker.calls("busy")) == 2
    assert worker.calls("poweroff") == []
    assert "a job arrived" in done.stderr


def test_an_absent_heartbeat_counts_from_the_first_run(tmp_path, imds):
    """A controller that never tagged the VM (or died before its first pass): the heartbeat
    is stale once the node has been up heartbeat_timeout_s."""
    (tmp_path / "fresh").mkdir()
    fresh = Node(tmp_path / "fresh", imds.url, self_retire_idle_s=0)  # first run: no state
    assert fresh.run().returncode == 0
    assert fresh.calls("poweroff") == []
    (tmp_path / "old").mkdir()
    old = Node(tmp_path / "old", imds.url)
    old.set_state(**IDLE_LONG)  # up 8000 s > heartbeat_timeout_s 900, never a heartbeat
    assert old.run().returncode == 0
    assert old.calls("poweroff") == [OFF]


def test_a_heartbeat_seen_before_counts_when_the_tag_goes(tmp_path, imds):
    worker = node(tmp_path, imds)
    worker.set_state(first_seen=8000, last_busy=4000, last_heartbeat=100)
    assert worker.run().returncode == 0
    assert worker.calls("poweroff") == []


def test_lifetime_exceeded_and_idle_powers_off_even_with_a_fresh_heartbeat(tmp_path, imds):
    worker = node(tmp_path, imds, max_lifetime_s=3600, self_retire_idle_s=100000)
    worker.set_state(first_seen=7200, last_busy=60)
    beat(imds, 30)
    done = worker.run()
    assert worker.calls("poweroff") == [OFF]
    assert "max_lifetime_s" in done.stderr


def test_lifetime_exceeded_but_busy_keeps_running(tmp_path, imds):
    busy = recorder(tmp_path, "busy", "0")
    worker = node(tmp_path, imds, max_lifetime_s=3600, busy_command=busy)
    worker.set_state(first_seen=7200, last_busy=7200)
    beat(imds, 5000)
    assert worker.run().returncode == 0
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []  # not even drained


def test_lifetime_not_reached_keeps_running(tmp_path, imds):
    worker = node(tmp_path, imds, max_lifetime_s=3600, self_retire_idle_s=100000)
    worker.set_state(first_seen=3000, last_busy=3000)
    beat(imds, 30)
    assert worker.run().returncode == 0
    assert worker.calls("poweroff") == []


def test_a_spot_interruption_notice_drains_once(tmp_path, imds):
    worker = young(tmp_path, imds)
    imds.values[SPOT] = '{"action": "terminate", "time": "2025-01-01T00:02:00Z"}'
    for _ in range(2):
        done = worker.run()
        assert done.returncode == 0, done.stderr
    (drain,) = worker.calls("drain")
    assert drain[:3] == ["qmod", "-d", "*@t-atlas-00001"]
    assert drain[3].startswith("elastic-deadman: spot interruption notice")
    assert worker.state()["drained"]["reason"].startswith("spot interruption notice")
    assert worker.calls("poweroff") == []


def test_a_rebalance_recommendation_drains(tmp_path, imds):
    worker = young(tmp_path, imds)
    imds.values[REBALANCE] = '{"noticeTime": "2025-01-01T00:00:00Z"}'
    assert worker.run().returncode == 0
    (drain,) = worker.calls("drain")
    assert "rebalance recommendation" in drain[3]
    assert worker.calls("poweroff") == []


def test_no_notice_no_drain(tmp_path, imds):
    worker = young(tmp_path, imds)
    assert worker.run().returncode == 0
    assert worker.calls("drain") == []


def test_a_failed_drain_is_retried_on_the_next_run(tmp_path, imds):
    failing = recorder(tmp_path, "drain", "1,0", "scontrol")
    worker = young(tmp_path, imds, drain_command=failing)
    imds.values[SPOT] = '{"action": "stop"}'
    assert worker.run().returncode == 1  # the failure shows in systemd's unit state
    assert worker.state()["drained"] is None
    assert worker.run().returncode == 0
    assert len(worker.calls("drain")) == 2 and worker.state()["drained"]
    worker.run()
    assert len(worker.calls("drain")) == 2


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_imds_destroys_nothing_and_says_so(tmp_path):
    worker = Node(tmp_path, f"http://127.0.0.1:{closed_port()}", imds_timeout_s=1)
    worker.set_state(**IDLE_LONG)  # with no heartbeat reading this would be stale
    done = worker.run()
    assert done.returncode == 0
    assert worker.calls("poweroff") == [] and worker.calls("drain") == []
    assert "IMDS unreachable" in done.stderr


def test_imds_that_refuses_the_token_destroys_nothing(tmp_path, imds):
    worker = node(tmp_path, imds)
    worker.config["imds_url"] = imds.url + "/refuses"  # the token PUT gets 400
    worker.set_state(**IDLE_LONG)
    done = worker.run()
    assert worker.calls("poweroff") == []
    assert "IMDS unreachable" in done.stderr and "token" in done.stderr


def test_a_bad_config_is_an_error_that_runs_nothing(tmp_path, imds):
    worker = node(tmp_path, imds, poweroff_command="shutdown -h now")  # a string, not an argv
    worker.set_state(**IDLE_LONG)
    done = worker.run()
    assert done.returncode == 2 and "poweroff_command" in done.stderr
    assert worker.calls("busy") == []
