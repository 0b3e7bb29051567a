"""``elastic status`` formatting (elastic/status_report.py, pure): the oldest wait and
cores per VO, spend against each budget, nodes by state, an unread LRM as "queue
unknown", and every line within 80 columns whatever the names and errors."""

from __future__ import annotations

from elastic.model import BootBackoff, Host, Job, NodeState, Observation, ProviderKind
from elastic.status_report import LastPass, duration, status_json, status_text
from tests.factories import make_site, node

NOW = 1_800_000_000.0
SITE = make_site()


def observation(**kw) -> Observation:
    values = {
        "jobs": (
            Job("a", cores=4, vo="atlas", count=3, submit_time=NOW - 125),
            Job("b", cores=2, vo="atlas", nodes=2, submit_time=NOW - 30),  # 2 in all
            Job("c", cores=8, vo="cms", runnable=False, reason="held"),
            Job("d", cores=1, vo="atlas", running=True, submit_time=NOW - 9000),
        ),
        "nodes": (
            node("t-atlas-1", provider=ProviderKind.EC2, cost=0.2),
            node("t-atlas-2", provider=ProviderKind.EC2, cost=0.2, state=NodeState.BOOTING),
            node("t-atlas-3"),
            node("t-cms-4", "cms", state=NodeState.DRAINING),
        ),
        "hosts": (Host("hv1", 16, 64000, 4, 16000),),
    }
    return Observation(**(values | kw))


def test_queue_per_vo_counts_pending_cores_and_the_oldest_wait():
    data = status_json(observation(), [], site=SITE, now=NOW)
    atlas, cms = data["queue"]
    assert (atlas["pending"], atlas["cores"], atlas["oldest_wait_s"]) == (4, 14, 125.0)
    assert (cms["pending"], cms["not_runnable"], cms["oldest_wait_s"]) == (0, 1, None)
    text = status_text(observation(), [], site=SITE, now=NOW)
    assert "atlas  4        14     2m 5s        0" in text  # the running job's 9000 s is no wait


def test_a_host_error_is_said_once_with_its_host_and_other_errors_as_they_are():
    hosts = (Host("hv2", 16, 64000, 0, 0, reachable=False, error="connection refused"),)
    errors = ["libvirt host hv2 unreachable: connection refused", "provider ec2: unreachable"]
    text = status_text(observation(hosts=hosts), errors, site=SITE, now=NOW)
    assert text.count("connection refused") == 1 and "hv2 UNREACHABLE: connection" in text
    assert "error: provider ec2: unreachable" in text


def test_spend_rate_against_each_budget():
    cloud = {c["name"]: c for c in status_json(observation(), [], site=SITE, now=NOW)["cloud"]}
    assert cloud["atlas"] == {
        "name": "atlas",
        "instances": 2,
        "max_instances": 10,
        "spend_per_h": 0.4,
        "budget_per_h": 10.0,
    }
    assert (cloud["site"]["instances"], cloud["site"]["budget_per_h"]) == (2, 4.0)
    text = status_text(observation(), [], site=SITE, now=NOW)
    assert "atlas  2/10       0.40       10.00       4%" in text
    assert "site   2/20       0.40       4.00        10%" in text


def test_nodes_by_provider_and_state_and_hosts_free_and_used():
    text = status_text(observation(), [], site=SITE, now=NOW)
    assert "atlas        ec2       2      1 booting, 1 ready" in text
    assert "cms          libvirt   1      1 draining" in text
    assert "hv1   reachable  4           12    16000    48000" in text


def test_an_unread_lrm_is_queue_unknown_never_queue_empty():
    error = "LRM slurm: cannot start: No such file or directory: 'squeue'"
    unread = observation(jobs=(), lrm_ok=False)
    text = status_text(unread, [error], site=SITE, now=NOW, lrm_error=error)
    assert f"queue unknown: {error}" in text
    assert "queue empty" not in text
    assert text.count(error) == 1  # said once, where the queue would be
    read_empty = status_text(observation(jobs=()), [], site=SITE, now=NOW)
    assert "queue empty: no pending job" in read_empty and "unknown" not in read_empty
    assert status_json(unread, [error], lrm_error=error)["queue_unknown"] == error


def test_the_last_pass_time_and_result():
    done = LastPass(NOW - 75, degraded=True, actions=3, failed=1)
    text = status_text(observation(), [], site=SITE, now=NOW, last_pass=done)
    assert "last pass: 2027-01-15T07:58:45Z (1m 15s ago): DEGRADED, 3 action(s), 1 failed" in text
    assert "last pass: none recorded" in status_text(observation(), [], site=SITE, now=NOW)


def test_every_line_fits_80_columns_with_long_names_and_errors():
    long_vo = "v" + "x" * 30
    long_error = "LRM sge: failed (exit 1): " + "error: commlib error: got select error " * 5
    jobs = (Job("a", cores=4, vo=long_vo, count=123456, submit_time=NOW - 10**7),)
    nodes = tuple(
        node(f"n{i}", long_vo, state=state, provider=ProviderKind.EC2, cost=0.5)
        for i, state in enumerate(NodeState)
        if state is not NodeState.GONE
    )
    hosts = (
        Host("hypervisor-" + "h" * 60, 256, 2_000_000, 100, 1_000_000),
        Host("hv2", 16, 64000, 0, 0, reachable=False, error="connection refused " * 8),
    )
    backoffs = (
        BootBackoff(long_vo, ProviderKind.EC2, "eu-west-1/c5.xlarge", 9, NOW + 99, "x" * 200),
    )
    wide = Observation(jobs=jobs, nodes=nodes, hosts=hosts, backoffs=backoffs, scale_down_ok=False)
    for lrm_ok in (True, False):
        text = status_text(
            wide if lrm_ok else Observation((), nodes, hosts, lrm_ok=False),
            [long_error, "provider ec2: timed out after 25 s " * 4],
            site=SITE,
            now=NOW,
            last_pass=LastPass(NOW - 10**6, True, 1000, 999),
            lrm_error=None if lrm_ok else long_error,
        )
        too_wide = [line for line in text.splitlines() if len(line) > 80]
        assert too_wide == []
        assert "hv2 UNREACHABLE: connection refused" in text
    [row] = [line for line in text.splitlines() if line.startswith(long_vo[:23])]
    assert row.split()[1:3] == ["ec2", "8"]  # every state counted, the list clipped


def test_durations_are_short():
    assert [duration(s) for s in (5, 125, 7300, 200000)] == ["5s", "2m 5s", "2h 1m", "2d 7h"]
