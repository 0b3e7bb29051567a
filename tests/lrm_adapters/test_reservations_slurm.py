"""Slurm reservations: our own 22.05 captures (text; 22.05 refuses --json), CSCS's text with
epoch stamps, Slurm-web's JSON of data_parser v0.0.40 to v0.0.44, and the adapter's
fail-safe reading (a lost listing raises, it never reads as "no reservations")."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.reservations_slurm import parse_reservations_json, parse_reservations_text
from lrm_adapters.slurm import SlurmAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "slurm"
SQUEUE = FIXTURES / "debian_slurm2205_squeue_json_v0.0.38.json"
SINFO = FIXTURES / "debian_slurm2205_sinfo_json_v0.0.38.json"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A controller 9 h west of UTC: stamps must be read in the local zone, not as UTC."""
    monkeypatch.setenv("TZ", "America/Anchorage")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def local(*parts: int) -> float:
    return datetime(*parts).timestamp()  # type: ignore[arg-type]


def test_own_22_05_oneliner_capture_every_field(zone):
    first, second = parse_reservations_text(
        read("debian_slurm2205_scontrol_show_reservation_o_two.txt")
    )
    assert (
        first.start == local(2026, 12, 1, 21, 5, 9) == 1796159109 + 9 * 3600
    )  # Anchorage is UTC-9
    assert (first.end - first.start, second.end - second.start) == (1800, 5400)
    assert (first.name, first.nodes, first.node_count, first.cores) == (
        "elastic-capture",
        ("vm",),
        1,
        2,
    )
    assert (first.users, first.accounts, first.groups, first.partition) == (("root",), (), (), "")
    assert (first.state, first.flags) == ("INACTIVE", ("IGNORE_JOBS", "SPEC_NODES"))
    assert second.name == "elastic-capture-2" and second.users == ("root", "nobody")
    assert second.flags == ("MAINT", "IGNORE_JOBS", "DAILY", "SPEC_NODES")
    assert second.start == local(2026, 12, 1, 22, 55, 9)


def test_multiline_form_reads_as_the_oneliner():
    multi = parse_reservations_text(
        read("debian_slurm2205_scontrol_show_reservation_multiline.txt")
    )
    assert multi == parse_reservations_text(
        read("debian_slurm2205_scontrol_show_reservation_o_two.txt")
    )


def test_no_reservations_sentence_is_none():
    assert (
        parse_reservations_text(read("debian_slurm2205_scontrol_show_reservation_o_empty.txt"))
        == []
    )


def test_cscs_epoch_stamps_and_a_long_hostlist():
    (maint,) = parse_reservations_text(
        read("firecrest_alps_scontrol_a_show_o_reservations_epoch.txt")
    )
    assert (maint.name, maint.start, maint.end) == ("maintenance-june", 1781676000, 1781697600)
    assert maint.node_count == len(maint.nodes) == 1386
    assert maint.nodes[:3] == ("nid001154", "nid001306", "nid005394")
    assert (maint.cores, maint.groups, maint.users, maint.accounts) == (
        398848,
        ("root", "csstaff", "djenkssl"),
        (),
        (),
    )
    assert maint.flags == ("MAINT", "IGNORE_JOBS", "SPEC_NODES", "ALL_NODES")


def test_a_time_format_we_cannot_read_is_refused_not_guessed():
    # SLURM_TIME_FORMAT=relative-like stamps ("4 Jun 08:00"): no year, so no instant
    with pytest.raises(LRMParseError, match="StartTime"):
        parse_reservations_text(
            read("firecrest_alps_scontrol_a_show_o_reservations_custom_time_format.txt")
        )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "slurmweb_slurmrestd_23.11_v0.0.40_reservations.json",
            ("training", 1732957200, 1732982400, 4, 256, ("dshaw", "sharrison"), ("biology",)),
        ),
        (
            "slurmweb_slurmrestd_24.05_v0.0.41_reservations.json",
            ("training", 1748250553, 1748336953, 512, 25856, ("bparks",), ("optic",)),
        ),
        (
            "slurmweb_slurmrestd_25.11_v0.0.42_reservations.json",
            ("training", 1763216916, 1763303316, 4, 256, ("acuevas",), ("acoustic",)),
        ),
    ],
)
def test_json_of_every_data_parser(name, expected):
    (r,) = parse_reservations_json(read(name))
    assert (r.name, r.start, r.end, r.node_count, r.cores, r.users, r.accounts) == expected
    assert len(r.nodes) == r.node_count and r.nodes[0].startswith("cn")
    assert r.groups == () and r.partition in {"normal", "batch"} and r.state == ""
    assert r.flags == ("IGNORE_JOBS", "ANY_NODES", "PART_NODES", "SPEC_NODES", "FLEX")


def test_json_empty_list_is_none():
    assert (
        parse_reservations_json(read("slurmweb_slurmrestd_25.11_v0.0.44_reservations_empty.json"))
        == []
    )


ONE = (
    "ReservationName=r StartTime=2026-12-01T21:05:09 EndTime=2026-12-01T21:35:09 "
    "Nodes=cn[1-2] NodeCnt=2 CoreCnt=4 Users=root State=INACTIVE\n"
)


@pytest.mark.parametrize(
    "text",
    [
        "",  # the command said nothing: not Slurm's "none" sentence
        "No reservations in the system\nReservationNam",
        ONE.split(" State=")[0],  # cut short before State
        ONE.replace("NodeCnt=2", "NodeCnt=3"),  # a host list that lost a node
        ONE.replace("cn[1-2]", "cn[1-"),
        ONE.replace("EndTime=2026-12-01T21:35:09", "EndTime=2026-12-01T20:35:09"),
        ONE.replace("CoreCnt=4", "CoreCnt=4x"),
    ],
)
def test_garbled_text_is_a_parse_error(text):
    with pytest.raises(LRMParseError):
        parse_reservations_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{}",  # no reservations list at all: not an empty one
        '{"reservations": null}',
        '{"reservations": [], "errors": [{"error": "Unable to contact slurm controller"}]}',
        '{"reservations": [{"name": "r", "end_time": 2}]}',
        '{"reservations": [{"name": "r", "start_time": 1, "end_time": 2, "users": 5}]}',
        '{"reservations": [{"name": "r", "start_time": 1, "end_time": 2, "node_list": "a",'
        ' "node_count": 2}]}',
    ],
)
def test_garbled_json_is_a_parse_error(text):
    with pytest.raises(LRMParseError):
        parse_reservations_json(text)


class FakeSlurm:
    """Canned outputs by command; ``reservation`` answers ``scontrol show reservation``."""

    def __init__(self, json: str | Exception, text: str | Exception = "") -> None:
        self.json, self.text, self.calls = json, text, []

    def run(self, argv: Sequence[str], **_: Any) -> str:
        self.calls.append(list(argv))
        if argv[0] == "squeue":
            return SQUEUE.read_text()
        if argv[0] == "sinfo":
            return SINFO.read_text()
        answer = self.json if argv[-1] == "--json" else self.text
        if isinstance(answer, Exception):
            raise answer
        return answer


REFUSED = LRMError("failed", ["scontrol"], 1, "scontrol: unrecognized option '--json'")


def test_snapshot_carries_json_reservations():
    runner = FakeSlurm(read("slurmweb_slurmrestd_23.11_v0.0.40_reservations.json"))
    snapshot = SlurmAdapter(runner, []).snapshot()  # type: ignore[arg-type]
    assert [r.name for r in snapshot.reservations] == ["training"]
    assert snapshot.jobs and snapshot.nodes  # one reading: queue, nodes and reservations


def test_22_05_refuses_json_so_text_is_read_and_json_not_asked_again():
    runner = FakeSlurm(REFUSED, read("debian_slurm2205_scontrol_show_reservation_o_two.txt"))
    adapter = SlurmAdapter(runner, [])  # type: ignore[arg-type]
    assert [r.name for r in adapter.snapshot().reservations] == [
        "elastic-capture",
        "elastic-capture-2",
    ]
    runner.calls.clear()
    assert len(adapter.snapshot().reservations) == 2
    assert ["scontrol", "show", "reservation", "--oneliner"] in runner.calls
    assert ["scontrol", "show", "reservation", "--json"] not in runner.calls


@pytest.mark.parametrize(
    ("json", "text", "error"),
    [
        (
            LRMError("failed", ["scontrol"], 1, "slurm_load_reservations: Unable to contact"),
            "",
            LRMError,
        ),
        (LRMError("timed out", ["scontrol"], None, ""), "", LRMError),
        (
            REFUSED,
            LRMError("failed", ["scontrol"], 1, "Unable to contact slurm controller"),
            LRMError,
        ),
        ("{}", "", LRMParseError),
        (REFUSED, "", LRMParseError),  # empty text: lost, not "none"
    ],
)
def test_a_lost_reservation_listing_fails_the_whole_snapshot(json, text, error):
    with pytest.raises(error):
        SlurmAdapter(FakeSlurm(json, text), []).snapshot()  # type: ignore[arg-type]
