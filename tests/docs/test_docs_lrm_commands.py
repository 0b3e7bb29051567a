"""The LRM commands docs/sge.md, docs/slurm.md and docs/pbs.md quote are the ones the adapters
run: each adapter is driven through observation, registration (local and cloud), drain and
removal by a runner that records every argument list, and each command line of the page
(an indented or fenced block line, or an inline span, that starts with an LRM command) must
be one of them, placeholders (`<host>`) standing for one argument's text. The other way
round, every recorded command must be on the page. An inline span without a placeholder
may name just a command's first words (`qconf -ah`). The few commands a page gives the
admin to type are listed here, so a new one is a decision, not an accident.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from elastic.config import VoConfig
from elastic.slurm_power import expand, mark_down, node_vo
from lrm_adapters.base import LRMError
from lrm_adapters.pbs import PbsAdapter
from lrm_adapters.sge import EXEC_HOST_TEMPLATE, SgeAdapter
from lrm_adapters.slurm import SlurmAdapter
from tests.factories import with_atlas

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
LRM_COMMANDS = {
    "qconf", "qmod", "qstat", "qhost", "qrstat",
    "scontrol", "squeue", "sinfo",
    "qmgr", "pbsnodes", "pbs_rstat",
}  # fmt: skip
#: commands the pages give the admin (not elastic) to run, per page
ADMIN = {
    "sge.md": {"qconf -msconf", "qconf -am <user>", "qconf -ah <controller>"},
    "slurm.md": {
        "scontrol update nodename=<n> state=resume",
        "scontrol update nodename=<n> state=power_down_force",
    },
    "pbs.md": set(),
}
HOST, VO = "t-atlas-00007", "atlas"


class Recorder:
    """A CommandRunner stand-in: answers by the longest matching argv prefix, records all."""

    def __init__(self, answers: dict[tuple[str, ...], str | LRMError]) -> None:
        self.answers = answers
        self.calls: list[list[str]] = []

    def run(
        self, argv: Sequence[str], *, input_text: str | None = None, ok_codes: Sequence[int] = (0,)
    ) -> str:
        command = [str(a) for a in argv]
        self.calls.append(command)
        best = max((p for p in self.answers if tuple(command[: len(p)]) == p), key=len, default=())
        answer = self.answers.get(best, "")
        if isinstance(answer, LRMError):
            raise answer
        return answer


def fixture(path: str) -> str:
    return (FIXTURES / path).read_text(encoding="utf-8")


def vos() -> list[VoConfig]:
    return [
        VoConfig.model_validate(
            {"name": VO, "match": {"group": ["atlas"]}, "flavor": {"cores": 4, "memory_mb": 8192}}
        )
    ]


def sge_calls() -> list[list[str]]:
    seen = Recorder(
        {
            ("qstat", "-f"): fixture("sge/debian_sge819_qstat_u_r_ext_xml.xml"),
            ("qhost",): fixture("sge/debian_sge819_qhost_xml.xml"),
            ("qrstat", "-xml"): fixture("sge/debian_sge819_qrstat_xml_u_all_one.xml"),
            ("qrstat", "-ar"): fixture("sge/debian_sge819_qrstat_ar_xml.xml"),
            ("qstat", "-j"): fixture("sge/batcheuphoria_qstat_j_xml_multi_held.xml"),
        }
    )
    SgeAdapter(seen, vos()).snapshot()  # type: ignore[arg-type]
    # a host unknown to SGE and a VO without a host group: every registration step
    fresh = Recorder({("qconf", "-sq"): "qname all.q\nhostlist NONE\nseq_no 0\n"})
    SgeAdapter(fresh, vos()).register_node(HOST, VO, cloud=True)  # type: ignore[arg-type]
    # a second worker of the VO: the host group exists
    second = Recorder(
        {
            ("qconf", "-shgrpl"): "@atlas\n",
            ("qconf", "-shgrp"): "group_name @atlas\nhostlist t-atlas-00001\n",
            ("qconf", "-sq"): "qname all.q\nhostlist @atlas\n",
        }
    )
    SgeAdapter(second, vos()).register_node(HOST, VO)  # type: ignore[arg-type]
    # a registered cloud worker: drained, then removed
    known = Recorder(
        {
            ("qconf", "-sh"): f"{HOST}\n",
            ("qconf", "-sel"): f"{HOST}\n",
            ("qconf", "-shgrpl"): "@atlas\n",
            ("qconf", "-shgrp"): f"group_name @atlas\nhostlist {HOST}\n",
            ("qconf", "-sq"): f"qname all.q\nhostlist @atlas\nseq_no 0,[{HOST}=100]\n",
        }
    )
    adapter = SgeAdapter(known, vos())  # type: ignore[arg-type]
    adapter.drain_node(HOST, "idle")
    adapter.remove_node(HOST)
    return seen.calls + fresh.calls + second.calls + known.calls


def slurm_calls() -> list[list[str]]:
    seen = Recorder(
        {
            ("squeue",): fixture("slurm/debian_slurm2205_squeue_json_v0.0.38.json"),
            ("sinfo",): fixture("slurm/debian_slurm2205_sinfo_json_v0.0.38.json"),
            ("scontrol", "show", "reservation", "--json"): LRMError(
                "failed", ["scontrol"], 1, "scontrol: unrecognized option '--json'"
            ),
            ("scontrol", "show", "reservation", "--oneliner"): fixture(
                "slurm/debian_slurm2205_scontrol_show_reservation_o_two.txt"
            ),
        }
    )
    SlurmAdapter(seen, vos()).snapshot()  # type: ignore[arg-type]
    text = Recorder(
        {
            ("scontrol", "show", "reservation"): seen.answers[
                ("scontrol", "show", "reservation", "--json")
            ],
            ("scontrol", "show", "reservation", "--oneliner"): fixture(
                "slurm/debian_slurm2205_scontrol_show_reservation_o_empty.txt"
            ),
            ("squeue",): LRMError("failed", ["squeue"], 1, "squeue: unrecognized option '--json'"),
            ("sinfo",): LRMError("failed", ["sinfo"], 1, "sinfo: unrecognized option '--json'"),
            ("scontrol", "-o", "show", "jobs"): fixture(
                "slurm/clues_scontrol_o_show_jobs_20.02.txt"
            ),
            ("scontrol", "-o", "show", "nodes"): fixture(
                "slurm/clues_scontrol_o_show_nodes_20.02.txt"
            ),
        }
    )
    SlurmAdapter(text, vos()).snapshot()  # type: ignore[arg-type]
    missing = LRMError("failed", ["scontrol"], 1, f"Node {HOST} not found")
    fresh = Recorder({("scontrol", "--future", "show", "node"): missing})
    SlurmAdapter(fresh, vos()).register_node(HOST, VO, cloud=True)  # type: ignore[arg-type]
    known = Recorder({})
    adapter = SlurmAdapter(known, vos())  # type: ignore[arg-type]
    adapter.drain_node(HOST, "idle")
    adapter.remove_node(HOST)
    adapter.power_up(HOST)
    power = Recorder(
        {("scontrol", "-o", "show", "node"): f"NodeName={HOST} AvailableFeatures=atlas"}
    )
    site = with_atlas()
    expand(power, "cloud[1-3]")  # type: ignore[arg-type]
    node_vo(power, site, HOST)  # type: ignore[arg-type]
    mark_down(power, HOST, "VO atlas max_nodes 4 reached (4 live)")  # type: ignore[arg-type]
    return seen.calls + text.calls + fresh.calls + known.calls + power.calls


def pbs_calls() -> list[list[str]]:
    calls: list[list[str]] = []
    answers: dict[str, dict[tuple[str, ...], str | LRMError]] = {
        "torque": {
            ("qstat",): fixture("torque/dirac_rrcki_qstat_f_torque6_running.txt"),
            ("pbsnodes", "-x"): fixture("torque/goove_fzu_pbsnodes_x_trimmed.xml"),
        },
        "openpbs": {
            ("qstat",): fixture("pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json"),
            ("pbsnodes", "-av"): fixture("pbspro/firecrest_openpbs23_pbsnodes_a_F_json.json"),
            ("pbs_rstat",): fixture("pbspro/documented_pbs_rstat_F_advance_and_standing.txt"),
        },
    }
    for flavor, observed in answers.items():
        seen = Recorder(observed)
        PbsAdapter(seen, flavor=flavor).snapshot()  # type: ignore[arg-type]
        unknown = LRMError("failed", ["pbsnodes"], 1, f"pbsnodes: Unknown node {HOST}")
        fresh = Recorder({("pbsnodes", HOST): unknown})
        PbsAdapter(fresh, flavor=flavor).register_node(HOST, VO, cloud=True)  # type: ignore[arg-type]
        known = Recorder({})
        adapter = PbsAdapter(known, flavor=flavor)  # type: ignore[arg-type]
        adapter.drain_node(HOST, "idle")
        adapter.remove_node(HOST)
        calls += seen.calls + fresh.calls + known.calls
    return calls


RUNS: dict[str, Callable[[], list[list[str]]]] = {
    "sge.md": sge_calls,
    "slurm.md": slurm_calls,
    "pbs.md": pbs_calls,
}


def documented(page: str) -> list[str]:
    """The page's LRM command lines, comments cut, as written."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)
    candidates = re.findall(r"`([^`\n]+)`", prose)
    candidates += [line for line in text.splitlines() if line.startswith("    ")]
    candidates += [
        line
        for block in re.findall(r"^```[^\n]*\n(.*?)^```", text, re.M | re.S)
        for line in block.splitlines()
    ]
    lines = []
    for candidate in candidates:
        line = re.sub(r"\s+#.*$", "", candidate).strip()
        if line.split(" ", 1)[0] in LRM_COMMANDS:
            lines.append(line)
    return lines


def pattern(line: str) -> list[re.Pattern[str]]:
    """One regex per argument; `<...>` stands for any text inside that argument."""
    words = []
    for word in shlex.split(line):
        parts = re.split(r"(<[^>]+>)", word)
        regex = "".join(".+" if p.startswith("<") else re.escape(p) for p in parts if p)
        words.append(re.compile(regex + r"\Z"))
    return words


def matches(line: str, argv: list[str], *, prefix: bool = False) -> bool:
    """``line`` quotes ``argv``; with ``prefix``, a line without placeholders may name only
    its first words (`qconf -ah`, `pbsnodes -o`)."""
    words = pattern(line)
    if prefix and "<" not in line and len(words) < len(argv):
        argv = argv[: len(words)]
    return len(words) == len(argv) and all(w.match(a) for w, a in zip(words, argv, strict=True))


@pytest.mark.parametrize("page", sorted(RUNS))
def test_every_command_the_page_quotes_is_one_elastic_runs(page):
    calls = RUNS[page]()
    lines = documented(page)
    assert lines, page
    wrong = [
        line
        for line in lines
        if line not in ADMIN[page] and not any(matches(line, c, prefix=True) for c in calls)
    ]
    assert wrong == [], f"{page} quotes commands elastic does not run: {wrong}"


@pytest.mark.parametrize("page", sorted(RUNS))
def test_every_command_elastic_runs_is_on_the_page(page):
    lines = [line for line in documented(page) if line not in ADMIN[page]]
    missing = sorted({shlex.join(c) for c in RUNS[page]() if not any(matches(x, c) for x in lines)})
    assert missing == [], f"{page} does not show: {missing}"


def test_the_execution_host_file_is_quoted_line_by_line():
    page = (ROOT / "docs" / "sge.md").read_text(encoding="utf-8")
    for line in EXEC_HOST_TEMPLATE.format(host="<host>").splitlines():
        assert f"        {line}\n" in page


def test_a_misquoted_command_is_caught():
    """The matcher can fail: a wrong option, a missing argument, an extra one."""
    argv = ["qconf", "-aattr", "queue", "hostlist", "@atlas", "all.q"]
    assert matches("qconf -aattr queue hostlist @<vo> <queue>", argv)
    assert not matches("qconf -mattr queue hostlist @<vo> <queue>", argv)
    assert not matches("qconf -aattr queue hostlist @<vo>", argv)
    assert not matches("qconf -aattr queue hostlist @<vo> <queue> x", argv)
    assert matches('qmgr -c "create node <host>"', ["qmgr", "-c", f"create node {HOST}"])
