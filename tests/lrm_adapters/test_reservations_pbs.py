"""PBS reservations (``pbs_rstat -F``): an NCAR Casper record quoted by sam-queries and a
listing built from PBS Pro's documented format (no PBS here, no full public capture
found), and the adapter: OpenPBS reads them with every snapshot, Torque has none."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.pbs import PbsAdapter
from lrm_adapters.reservations_pbs import parse_pbs_rstat

FIXTURES = Path(__file__).parent.parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_ncar_casper_record_every_field():
    (r,) = parse_pbs_rstat(read("pbspro/samqueries_ncar_casper_pbs_rstat_f_excerpt.txt"))
    assert r.name == "casper-a100-testing" and r.state == "RESV_RUNNING"
    assert r.start == datetime(2025, 11, 12, 12, 0, 0).timestamp()  # server's local time
    assert r.end == datetime(2025, 12, 31, 23, 59, 0).timestamp()
    assert (r.nodes, r.node_count, r.cores) == (("casper41", "casper44"), 2, 256)
    assert (r.users, r.groups, r.accounts, r.partition) == (
        ("user1", "user2"),
        (),
        (),
        "pbs-default",
    )


def test_documented_advance_and_standing_reservations():
    unnamed, standing = parse_pbs_rstat(
        read("pbspro/documented_pbs_rstat_F_advance_and_standing.txt")
    )
    assert unnamed.name == "R226"  # Reserve_Name = NULL: the id's queue name
    assert (unnamed.state, unnamed.end - unnamed.start) == ("RESV_CONFIRMED", 7200)
    assert (unnamed.nodes, unnamed.node_count, unnamed.cores) == (("node01", "node02"), 2, 8)
    assert unnamed.users == ("alice", "bob", "-carol")  # host parts dropped, a denial kept
    assert unnamed.groups == ("atlas",)
    assert standing.name == "cms-nightly" and standing.state == "RESV_RUNNING"
    assert (standing.nodes, standing.node_count, standing.cores) == (("node03",), 1, 16)


def test_no_output_is_no_reservation():
    assert parse_pbs_rstat("") == []  # pbs_rstat prints nothing when there is none


REC = (
    "Resv ID: R1.s\nReserve_Name = a\nreserve_start = Mon Dec 07 10:00:00 2026\n"
    "reserve_end = Mon Dec 07 12:00:00 2026\nresv_nodes = (n1:ncpus=4)\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "pbs_rstat: cannot connect to server\n",
        REC.replace("reserve_end = Mon Dec 07 12:00:00 2026\n", ""),  # cut short
        REC.replace("10:00:00", "10:00:00x"),
        REC.replace("(n1:ncpus=4)", "(n1:ncpus=4"),
        REC.replace("ncpus=4", "ncpus=four"),
        REC.replace("Dec 07 12", "Dec 06 12"),  # ends before it starts
        "Resv ID: \nreserve_start = Mon Dec 07 10:00:00 2026\n",
    ],
)
def test_garbled_output_is_a_parse_error(text):
    with pytest.raises(LRMParseError):
        parse_pbs_rstat(text)


class FakePbs:
    def __init__(self, rstat: str | Exception) -> None:
        self.rstat, self.calls = rstat, []

    def run(self, argv: Sequence[str], **_: Any) -> str:
        self.calls.append(list(argv))
        if argv[0] == "qstat":
            if "json" in argv:
                return read("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json")
            return read("torque/aiida_torque_qstat_f_ichec_newlines.txt")
        if argv[0] == "pbsnodes":
            if "json" in argv:
                return read("pbspro/firecrest_openpbs23_pbsnodes_a_F_json.json")
            return read("torque/goove_fzu_pbsnodes_x_trimmed.xml")
        if isinstance(self.rstat, Exception):
            raise self.rstat
        return self.rstat


def test_openpbs_snapshot_carries_the_reservations():
    runner = FakePbs(read("pbspro/documented_pbs_rstat_F_advance_and_standing.txt"))
    snapshot = PbsAdapter(runner, flavor="openpbs").snapshot()  # type: ignore[arg-type]
    assert [r.name for r in snapshot.reservations] == ["R226", "cms-nightly"]
    assert snapshot.jobs and ["pbs_rstat", "-F"] in runner.calls


def test_torque_has_no_pbs_rstat_and_is_not_asked():
    runner = FakePbs(LRMError("cannot start: No such file or directory", ["pbs_rstat"]))
    assert PbsAdapter(runner, flavor="torque").snapshot().reservations == ()  # type: ignore[arg-type]
    assert not any(c[0] == "pbs_rstat" for c in runner.calls)


@pytest.mark.parametrize(
    ("rstat", "error"),
    [
        (LRMError("failed", ["pbs_rstat"], 1, "Connection refused"), LRMError),
        ("Resv ID: R1.s\nReserve_Name = a\n", LRMParseError),
    ],
)
def test_a_lost_reservation_listing_fails_the_whole_snapshot(rstat, error):
    with pytest.raises(error):
        PbsAdapter(FakePbs(rstat), flavor="openpbs").snapshot()  # type: ignore[arg-type]
