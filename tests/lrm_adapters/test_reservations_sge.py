"""SGE advance reservations: our own Son of Grid Engine 8.1.9 captures (listing, detail with
granted slots and ACL, unknown id, none) and the adapter's fail-safe reading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.reservations_sge import parse_qrstat_ar_xml, parse_qrstat_ids
from lrm_adapters.sge import SgeAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sge"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_listing_gives_the_ids_and_an_empty_one_none():
    assert parse_qrstat_ids(read("debian_sge819_qrstat_xml_u_all_one.xml")) == ["2"]
    assert parse_qrstat_ids(read("debian_sge819_qrstat_xml_u_all_empty.xml")) == []


def test_detail_every_field():
    (ar,) = parse_qrstat_ar_xml(read("debian_sge819_qrstat_ar_xml.xml"), ["2"])
    assert ar.name == "elastic-capture" and ar.state == "w"
    assert ar.start == datetime(2026, 12, 1, 21, 15, 9).timestamp()  # qmaster's local time
    assert ar.end - ar.start == 1800
    assert (ar.nodes, ar.node_count, ar.cores) == (("vm",), 1, 1)  # all.q@vm, 1 slot
    assert ar.users == ("root", "sgeadmin")  # owner, then the ACL (root once)
    assert (ar.accounts, ar.groups, ar.partition, ar.flags) == ((), (), "", ())


def test_an_ar_deleted_between_listing_and_detail_is_left_out():
    assert parse_qrstat_ar_xml(read("debian_sge819_qrstat_ar_xml_unknown.xml"), ["999999"]) == []


GRANTED = (
    "<granted_slots_list><granted_slots queue_instance='{qi}' slots='{n}'/></granted_slots_list>"
)
AR = (
    "<qrstat><ar_summary><id>7</id><name>x</name><owner>alice</owner><state>r</state>"
    "<start_time>2026-12-01T21:15:09</start_time><end_time>2026-12-01T22:15:09</end_time>"
    "{granted}<acl_list><acl user='bob'/><acl user='@atlas'/></acl_list></ar_summary></qrstat>"
)


def test_slots_on_several_queue_instances_count_each_host_once():
    granted = (
        "<granted_slots_list><granted_slots queue_instance='all.q@h1' slots='2'/>"
        "<granted_slots queue_instance='long.q@h1' slots='2'/>"
        "<granted_slots queue_instance='all.q@h2' slots='4'/></granted_slots_list>"
    )
    (ar,) = parse_qrstat_ar_xml(AR.format(granted=granted), ["7"])
    assert (ar.nodes, ar.node_count, ar.cores) == (("h1", "h2"), 2, 8)
    assert (ar.users, ar.groups) == (("alice", "bob"), ("atlas",))


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("", []),  # nothing at all is not an empty <qrstat>
        ("<qrstat><ar_summary><id>2</id>", []),  # cut short
        ("<job_info/>", []),
        ("<qrstat><ar_summary><id>x</id></ar_summary></qrstat>", []),
        ("<qrstat><oops/></qrstat>", []),
    ],
)
def test_garbled_listing_is_a_parse_error(text, ids):
    with pytest.raises(LRMParseError):
        parse_qrstat_ids(text)


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (read("debian_sge819_qrstat_ar_xml.xml"), ["2", "3"]),  # AR 3 not answered at all
        (read("debian_sge819_qrstat_xml_u_all_empty.xml"), ["2"]),
        (AR.format(granted=GRANTED.format(qi="all.q", n=1)), ["7"]),  # no host
        (AR.format(granted=GRANTED.format(qi="all.q@h", n="1x")), ["7"]),
        (AR.format(granted="").replace("2026-12-01T21:15:09", "soon"), ["7"]),
        (AR.format(granted="").replace("22:15:09", "20:15:09"), ["7"]),  # ends first
    ],
)
def test_garbled_detail_is_a_parse_error(text, ids):
    with pytest.raises(LRMParseError):
        parse_qrstat_ar_xml(text, ids)


class FakeSge:
    """qstat/qhost from our own captures; qrstat from ``listing`` and ``detail``."""

    def __init__(self, listing: str | Exception, detail: str | Exception = "") -> None:
        self.listing, self.detail, self.calls = listing, detail, []

    def run(self, argv: Sequence[str], *, ok_codes: Sequence[int] = (0,), **_: Any) -> str:
        self.calls.append((list(argv), tuple(ok_codes)))
        if argv[0] == "qstat":
            return read("debian_sge819_qstat_f_u_r_ext_xml_disabled.xml")
        if argv[0] == "qhost":
            return read("debian_sge819_qhost_xml.xml")
        answer = self.detail if "-ar" in argv else self.listing
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_snapshot_carries_the_reservations_in_one_detail_call():
    runner = FakeSge(
        read("debian_sge819_qrstat_xml_u_all_one.xml"), read("debian_sge819_qrstat_ar_xml.xml")
    )
    snapshot = SgeAdapter(runner, []).snapshot()  # type: ignore[arg-type]
    assert [(r.name, r.nodes) for r in snapshot.reservations] == [("elastic-capture", ("vm",))]
    assert snapshot.jobs and snapshot.nodes
    qrstat = [c for c in runner.calls if c[0][0] == "qrstat"]
    assert qrstat == [
        (["qrstat", "-xml", "-u", "*"], (0,)),
        (["qrstat", "-ar", "2", "-xml"], (0, 1)),  # exit 1: an AR deleted meanwhile
    ]


def test_no_reservation_asks_no_detail():
    runner = FakeSge(read("debian_sge819_qrstat_xml_u_all_empty.xml"))
    assert SgeAdapter(runner, []).snapshot().reservations == ()  # type: ignore[arg-type]
    assert not any("-ar" in c[0] for c in runner.calls)


@pytest.mark.parametrize(
    ("listing", "detail", "error"),
    [
        (LRMError("failed", ["qrstat"], 1, "error: commlib error: can't connect"), "", LRMError),
        ("", "", LRMParseError),  # qrstat printed nothing: lost, not "none"
        (read("debian_sge819_qrstat_xml_u_all_one.xml"), "", LRMParseError),
        (
            read("debian_sge819_qrstat_xml_u_all_one.xml"),
            LRMError("timed out", ["qrstat"]),
            LRMError,
        ),
    ],
)
def test_a_lost_reservation_listing_fails_the_whole_snapshot(listing, detail, error):
    with pytest.raises(error):
        SgeAdapter(FakeSge(listing, detail), []).snapshot()  # type: ignore[arg-type]
