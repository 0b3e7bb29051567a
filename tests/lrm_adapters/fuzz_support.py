"""What the parser fuzz tests share: every parser with its real captures, and the mutations.

A parser here is a function from the bytes an LRM command printed to its normal result;
the text formats get them decoded as the command runner would hand them over (UTF-8,
undecodable bytes replaced). Each parser is listed with the captures in tests/fixtures/
it is fed, so a new capture is fuzzed as soon as it is added to a glob below.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from elastic.model import Job, LrmNode, LrmReservation
from lrm_adapters import (
    pbs_parse,
    reservations_pbs,
    reservations_sge,
    reservations_slurm,
    sge_parse,
    slurm_parse,
    slurm_text,
)
from lrm_adapters.htcondor import job_from_ad, nodes_from_ads, parse_long_output

FIXTURES = Path(__file__).parent.parent / "fixtures"
EMPTY_QHOST = b"<?xml version='1.0'?><qhost xmlns:xsd='x'></qhost>"
#: examples per parser in the test command; scripts/fuzz raises it
EXAMPLES = int(os.environ.get("ELASTIC_FUZZ_EXAMPLES", "60"))


def text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _sge_qstat(data: bytes) -> list[Any]:
    result = sge_parse.parse_qstat_xml(data)
    nodes = sge_parse.merge_nodes(sge_parse.parse_qhost_xml(EMPTY_QHOST), result)
    return [*result.jobs, *nodes]


def _sge_qhost(data: bytes) -> list[Any]:
    hosts = sge_parse.parse_qhost_xml(data)
    return list(sge_parse.merge_nodes(hosts, sge_parse.QstatResult()))


def _pair(parsed: tuple[list[Job], Any]) -> list[Any]:
    jobs, per_host = parsed
    assert all(isinstance(host, str) and count > 0 for host, count in per_host.items())
    return list(jobs)


def _condor(data: bytes) -> list[Any]:
    ads = parse_long_output(text(data))
    return [*(job_from_ad(ad) for ad in ads), *nodes_from_ads(ads)]


def _reservations(found: Sequence[LrmReservation]) -> list[Any]:
    """Reservations that hold together; checked here, as ``_pair`` checks its counts."""
    for r in found:
        assert isinstance(r, LrmReservation) and r.name and r.end >= r.start, r
        assert r.node_count >= 0 and r.cores >= 0 and all(r.nodes), r
    return []


def _ar_ids(ids: list[str]) -> list[Any]:
    assert all(i.isdigit() for i in ids), ids
    return []


def _sge_ar_detail(data: bytes) -> list[Any]:
    """``qrstat -ar`` of the ids the (mutated) output itself names, as the adapter asks."""
    ids = [m.decode() for m in re.findall(rb"<id>(\d+)</id>", data)]
    return _reservations(reservations_sge.parse_qrstat_ar_xml(data, ids))


@dataclass(frozen=True)
class Target:
    """One parser and the captures it is fuzzed from."""

    name: str
    parse: Callable[[bytes], Sequence[Any]]
    globs: tuple[str, ...]

    def captures(self) -> list[Path]:
        paths = sorted({p for g in self.globs for p in FIXTURES.glob(g)})
        assert paths, f"no capture for {self.name}"
        return paths


TARGETS = (
    Target(
        "sge_qstat_xml",
        _sge_qstat,
        ("sge/*qstat_f*.xml", "sge/*qstat_u*.xml", "sge/*qstat_ext*.xml", "sge/gip_qstat*"),
    ),
    Target("sge_qstat_xml_text", lambda d: _sge_qstat(text(d).encode()), ("sge/debian_*qstat*",)),
    Target("sge_qhost_xml", _sge_qhost, ("sge/*qhost*.xml",)),
    Target("sge_qstat_j_xml", sge_parse.parse_qstat_j_xml, ("sge/*qstat_j*.xml",)),
    Target(
        "slurm_squeue_json",
        lambda d: _pair(slurm_parse.parse_squeue_json(text(d))),
        ("slurm/*squeue*.json", "slurm/*jobs.json"),
    ),
    Target(
        "slurm_sinfo_json",
        lambda d: slurm_parse.parse_sinfo_json(text(d)),
        ("slurm/*sinfo*.json", "slurm/*nodes.json", "slurm/*node_draining.json"),
    ),
    Target(
        "slurm_scontrol_jobs",
        lambda d: _pair(slurm_text.parse_scontrol_jobs(text(d))),
        ("slurm/*show_jobs*.txt", "slurm/*show_job_*.txt"),
    ),
    Target(
        "slurm_scontrol_nodes",
        lambda d: slurm_text.parse_scontrol_nodes(text(d)),
        ("slurm/*show_nodes*.txt",),
    ),
    Target(
        "pbs_qstat_text",
        lambda d: _pair(pbs_parse.parse_qstat_text(text(d))),
        ("torque/*qstat_f*.txt", "pbspro/*qstat_f*.txt"),
    ),
    Target("pbs_qstat_xml", lambda d: _pair(pbs_parse.parse_qstat_xml(d)), ("torque/*qstat_x*",)),
    Target(
        "pbs_qstat_json",
        lambda d: _pair(pbs_parse.parse_qstat_json(text(d))),
        ("pbspro/*qstat*.json",),
    ),
    Target("pbs_pbsnodes_xml", pbs_parse.parse_pbsnodes_xml, ("torque/*pbsnodes*.xml",)),
    Target(
        "pbs_pbsnodes_json",
        lambda d: pbs_parse.parse_pbsnodes_json(text(d)),
        ("pbspro/*pbsnodes*.json",),
    ),
    Target("htcondor_classad_text", _condor, ("htcondor/*.txt",)),
    Target(
        "slurm_reservations_text",
        lambda d: _reservations(reservations_slurm.parse_reservations_text(text(d))),
        ("slurm/*show_reservation*.txt", "slurm/*reservations_epoch.txt"),
    ),
    Target(
        "slurm_reservations_json",
        lambda d: _reservations(reservations_slurm.parse_reservations_json(text(d))),
        ("slurm/*reservations*.json",),
    ),
    Target(
        "sge_qrstat_ids_xml",
        lambda d: _ar_ids(reservations_sge.parse_qrstat_ids(d)),
        ("sge/*qrstat_xml_u_all*.xml",),
    ),
    Target("sge_qrstat_ar_xml", _sge_ar_detail, ("sge/*qrstat_ar_xml*.xml",)),
    Target(
        "pbs_rstat_text",
        lambda d: _reservations(reservations_pbs.parse_pbs_rstat(text(d))),
        ("pbspro/*rstat*.txt",),
    ),
)

#: bytes that mean something to one of the formats: where mutations hurt most
TOKENS = [
    b"<",
    b">",
    b"</",
    b"&",
    b'"',
    b"'",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"=",
    b" = ",
    b"\n",
    b"\n\n",
    b"\t",
    b"-",
    b"-1",
    b"0",
    b"1e999",
    b"NaN",
    b"null",
    b"true",
    b"99999999999999999999999",
    b"\x00",
    b"\xff",
    b"(null)",
    b"JobId=",
    b"NodeName=",
    b"Job Id: ",
    b"@",
    b"/",
    b"+",
    b"*",
]


def _flip(data: bytes, at: int, bit: int) -> bytes:
    if not data:
        return data
    at %= len(data)
    return data[:at] + bytes([data[at] ^ (1 << bit)]) + data[at + 1 :]


def _lines(data: bytes, at: int, how: str) -> bytes:
    lines = data.split(b"\n")
    at %= len(lines)
    if how == "delete":
        del lines[at]
    else:
        lines.insert(at, lines[at])
    return b"\n".join(lines)


def _mutation() -> st.SearchStrategy[Callable[[bytes], bytes]]:
    where = st.integers(min_value=0, max_value=2**31)
    return st.one_of(
        st.builds(lambda at, bit: lambda d: _flip(d, at, bit), where, st.integers(0, 7)),
        st.builds(lambda at: lambda d: d[: at % (len(d) + 1)], where),
        st.builds(lambda at: lambda d: _lines(d, at, "delete"), where),
        st.builds(lambda at: lambda d: _lines(d, at, "duplicate"), where),
        st.builds(
            lambda at, junk: lambda d: d[: at % (len(d) + 1)] + junk + d[at % (len(d) + 1) :],
            where,
            st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=16)),
        ),
        st.builds(  # replace a run of bytes, e.g. a number by a token
            lambda at, size, junk: (
                lambda d: d[: at % (len(d) + 1)] + junk + d[at % (len(d) + 1) + size :]
            ),
            where,
            st.integers(1, 12),
            st.sampled_from(TOKENS),
        ),
    )


def mutated(capture: bytes) -> st.SearchStrategy[bytes]:
    """``capture`` with one to four mutations applied in turn."""

    def apply(mutations: list[Callable[[bytes], bytes]]) -> bytes:
        data = capture
        for mutate in mutations:
            data = mutate(data)
        return data

    return st.lists(_mutation(), min_size=1, max_size=4).map(apply)


def check_result(result: Sequence[Any]) -> None:
    """A parser's normal result: jobs and nodes of the model, nothing half-made."""
    for item in result:
        assert isinstance(item, Job | LrmNode | sge_parse.QhostHost), type(item)
        if isinstance(item, Job):
            assert item.cores >= 1 and item.count >= 1, item
        else:
            assert isinstance(item.name, str), item
