"""``elastic reserve``, ``reservations`` and ``cancel`` (issue 14): admission at once with
the reason, the lead time printed, the ledger's record and its events."""

from __future__ import annotations

import json
import time

from elastic.cli import EXIT_CONFIG, EXIT_NO_NODE, EXIT_OK, main
from elastic.ledger import Ledger
from elastic.model import ReservationState

SITE_WITH_HOSTS = """\
site:
  name: rsv
  state: ./var/elastic.db
lrm:
  kind: replay
  workload: jobs.yaml
vos:
  - name: atlas
    match: {project: [atlas]}
    flavor: {cores: 4, memory_mb: 8192}
    image: {libvirt: atlas.qcow2}
    max_nodes: 6
    context: {template: sge, vars: {qmaster: qmaster.example}}
local:
  hosts:
    - {name: hv1, uri: "test:///default", cores: 16, memory_mb: 65536, reserved_cores: 4}
reservations:
  margin_s: 120
"""


def site(tmp_path):
    (tmp_path / "jobs.yaml").write_text("jobs: []\n")
    path = tmp_path / "site.yaml"
    path.write_text(SITE_WITH_HOSTS)
    return path


def test_a_reservation_that_fits_is_accepted_with_its_lead(tmp_path, capsys):
    path = site(tmp_path)
    code = main(
        [
            "reserve",
            "atlas",
            "--nodes",
            "3",
            "--start",
            "+2h",
            "--hours",
            "1",
            "-c",
            str(path),
            "--name",
            "run7",
        ]
    )
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    assert "r-1: accepted: 3 node(s) on local hosts" in out
    assert "lead 480 s" in out  # 300 s boot estimate + 60 s registration + 120 s margin
    (stored,) = Ledger.open(tmp_path / "var" / "elastic.db").reservations()
    assert (stored.vo, stored.nodes, stored.name, stored.state) == (
        "atlas",
        3,
        "run7",
        ReservationState.ACCEPTED,
    )
    assert abs(stored.start - (time.time() + 7200)) < 60


def test_local_room_over_the_window_with_other_reservations_decides(tmp_path, capsys):
    path = site(tmp_path)
    args = ["-c", str(path), "--start", "+1h", "--hours", "2", "--local-only"]
    assert main(["reserve", "atlas", "--nodes", "2", *args]) == EXIT_OK
    # hv1 holds (16 - 4) / 4 = 3 workers: 2 are taken over that window
    assert main(["reserve", "atlas", "--nodes", "2", *args]) == EXIT_CONFIG
    out = capsys.readouterr().out
    assert "r-2: refused: local hosts hold 1 of 2 worker(s)" in out
    assert "may not burst to EC2" in out
    later = ["-c", str(path), "--start", "+4h", "--hours", "1", "--local-only"]
    assert main(["reserve", "atlas", "--nodes", "3", *later]) == EXIT_OK  # no overlap


def test_max_nodes_refuses_with_the_figures(tmp_path, capsys):
    path = site(tmp_path)
    assert main(["reserve", "atlas", "--nodes", "7", "--hours", "1", "-c", str(path)]) == (
        EXIT_CONFIG
    )
    assert "VO atlas max_nodes 6: 0 node(s) already reserved over that window, 7 asked" in (
        capsys.readouterr().out
    )


def test_user_mistakes_exit_2_with_one_line(tmp_path, capsys):
    path = site(tmp_path)
    for argv in (
        ["reserve", "nosuch", "--nodes", "1", "--hours", "1"],
        ["reserve", "atlas", "--nodes", "1", "--hours", "1", "--start", "tomorrow"],
        ["reserve", "atlas", "--nodes", "1", "--hours", "0"],
        ["reserve", "atlas", "--nodes", "1", "--hours", "1", "--start", "2001-01-01T00:00"],
    ):
        assert main([*argv, "-c", str(path)]) == EXIT_CONFIG, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_list_json_and_cancel(tmp_path, capsys):
    path = site(tmp_path)
    main(["reserve", "atlas", "--nodes", "1", "--start", "+1h", "--hours", "1", "-c", str(path)])
    capsys.readouterr()
    assert main(["reservations", "--json", "-c", str(path)]) == EXIT_OK
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["id"], listed["state"], listed["nodes"]) == ("r-1", "accepted", 1)
    assert main(["cancel", "r-1", "-c", str(path)]) == EXIT_OK
    assert main(["cancel", "r-9", "-c", str(path)]) == EXIT_NO_NODE
    assert main(["reservations", "-c", str(path)]) == EXIT_OK
    assert "no open reservations" in capsys.readouterr().out
    assert main(["reservations", "--all", "--json", "-c", str(path)]) == EXIT_OK
    (ended,) = json.loads(capsys.readouterr().out)
    assert ended["state"] == "cancelled"
    kinds = [e.message for e in Ledger.open(tmp_path / "var" / "elastic.db").events(node_id="r-1")]
    assert kinds == ["accepted: 1 node(s) on local hosts", "cancelled by an administrator"]


def test_explain_shows_the_reservation_and_its_boots(tmp_path, capsys):
    path = site(tmp_path)
    main(
        [
            "reserve",
            "atlas",
            "--nodes",
            "2",
            "--start",
            "+5m",
            "--hours",
            "1",
            "-c",
            str(path),
            "--name",
            "run7",
        ]
    )
    capsys.readouterr()
    assert main(["explain", "atlas", "-c", str(path)]) == EXIT_OK
    out = capsys.readouterr().out
    assert "reservation run7 [elastic]: accepted: 2 node(s) of atlas" in out
    assert "of the boots, 2 for reservations (not queue demand)" in out
    assert "reservation run7 of\n      atlas: 2 node(s) up by its start" in out  # wrapped at 80
    assert main(["explain", "atlas", "--json", "-c", str(path)]) == EXIT_OK
    (atlas,) = json.loads(capsys.readouterr().out)["explanations"]
    assert atlas["decision"]["reserved"] == 2 and atlas["decision"]["at_risk"] == []


def test_the_listing_counts_boots_and_drains_for_a_reservation_and_prices_its_nodes(
    tmp_path, capsys
):
    from elastic.model import NodeRecord, NodeState, ProviderKind, Reservation

    path = site(tmp_path)
    (tmp_path / "var").mkdir()
    ledger = Ledger.open(tmp_path / "var" / "elastic.db")
    now = time.time()
    r = Reservation("r-7", "atlas", 2, now - 1800, now + 1800, created_at=now - 7200)
    ledger.put_reservation(r, now - 7200, "accepted")
    for node_id, cost in (("rsv-atlas-00001", 0.0), ("rsv-atlas-00002", 0.36)):
        row = NodeRecord(
            id=node_id,
            vo="atlas",
            provider=ProviderKind.EC2 if cost else ProviderKind.LIBVIRT,
            location="r",
            cores=4,
            memory_mb=8192,
            state=NodeState.READY,
            created_at=now - 3600,  # an hour ago: $0.36 for the EC2 one
            state_since=now - 3000,
            hourly_cost=cost,
        )
        ledger.add(row, "requested")
        ledger.event(now - 3600, "reservation-boot", f"{node_id} booted for it: r-7", "r-7")
    ledger.event(now - 3700, "reservation-drain", "cms-1 of cms drained: room", "r-7")
    assert main(["reservations", "-c", str(path)]) == EXIT_OK
    line = capsys.readouterr().out
    assert "2 node(s) booted for it, 1 queue worker(s) drained for its room, $0.36" in line
    assert main(["reservations", "-c", str(path), "--json"]) == EXIT_OK
    (shown,) = json.loads(capsys.readouterr().out)
    assert (shown["boots"], shown["drained"], shown["cost"]) == (2, 1, 0.36)


def test_nodes_bigger_than_the_flavor_are_refused_at_once(tmp_path, capsys):
    path = site(tmp_path)
    common = ["reserve", "atlas", "--nodes", "1", "--hours", "1", "-c", str(path)]
    assert main([*common, "--cores", "8"]) == EXIT_CONFIG
    assert "has 4 cores and 8192 MB (its flavor), less than the 8 cores" in capsys.readouterr().out
    assert main([*common, "--cores", "4", "--memory-mb", "8192"]) == EXIT_OK
