"""The adapters read their biggest listing through ``CommandRunner.stream`` (SGE's qstat
-xml, Slurm's squeue --json and its scontrol fallback, Torque's qstat -f, OpenPBS's qstat
-f -F json): real processes on PATH printing real outputs, and the snapshot the same as
from the whole text."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from elastic.model import QueueSnapshot
from lrm_adapters._command import CommandRunner
from lrm_adapters.base import LRMError, LRMParseError
from lrm_adapters.pbs import PbsAdapter
from lrm_adapters.sge import SgeAdapter
from lrm_adapters.slurm import SlurmAdapter

FIXTURES = Path(__file__).parent.parent / "fixtures"
T = TypeVar("T")
UNSUPPORTED = "unrecognized option '--json'"

#: a stand-in LRM command: prints the fixture its name and arguments map to
FAKE = """\
import json, os, sys
name = os.path.basename(sys.argv[0])
table = json.loads(os.environ["FAKE_LRM_OUTPUTS"])
path = table.get(" ".join([name, *sys.argv[1:]]))
if path is None:
    sys.stderr.write(f"{name}: unrecognized option '--json'\\n")
    sys.exit(1)
sys.stdout.buffer.write(open(path, "rb").read())
"""

SGE_QSTAT = "qstat -f -u * -r -ext -urg -xml"
#: adapter, command -> fixture, the commands read through ``stream`` (in order)
CASES: dict[str, tuple[Callable[[Any], Any], dict[str, str], list[str]]] = {
    "sge": (
        lambda runner: SgeAdapter(runner, []),
        {
            SGE_QSTAT: "sge/debian_sge819_qstat_u_r_ext_xml.xml",
            "qhost -xml": "sge/debian_sge819_qhost_xml.xml",
            "qrstat -xml -u *": "sge/debian_sge819_qrstat_xml_u_all_empty.xml",
        },
        [SGE_QSTAT],
    ),
    "slurm squeue --json": (
        lambda runner: SlurmAdapter(runner, []),
        {
            "squeue --json": "slurm/slurmweb_slurmrestd_25.05_v0.0.41_jobs.json",
            "sinfo --json": "slurm/slurmweb_slurmrestd_25.05_v0.0.41_nodes.json",
            "scontrol show reservation --json": (
                "slurm/slurmweb_slurmrestd_24.05_v0.0.41_reservations.json"
            ),
        },
        ["squeue --json"],
    ),
    "slurm scontrol": (
        lambda runner: SlurmAdapter(runner, []),
        {
            "scontrol -o show jobs": "slurm/clues_scontrol_o_show_jobs_20.02.txt",
            "scontrol -o show nodes": "slurm/clues_scontrol_o_show_nodes_20.02.txt",
            "scontrol show reservation --oneliner": (
                "slurm/debian_slurm2205_scontrol_show_reservation_o_empty.txt"
            ),
        },
        ["squeue --json", "scontrol -o show jobs"],  # --json refused: the fallback
    ),
    "torque qstat -f": (
        lambda runner: PbsAdapter(runner, flavor="torque"),
        {
            "qstat -f": "torque/dirac_rrcki_qstat_f_torque6_running.txt",
            "pbsnodes -x": "torque/goove_fzu_pbsnodes_x_trimmed.xml",
        },
        ["qstat -f"],
    ),
    "openpbs qstat -f -F json": (
        lambda runner: PbsAdapter(runner, flavor="openpbs"),
        {
            "qstat -f -F json": "pbspro/firecrest_openpbs23_qstat_f_F_json_allusers.json",
            "pbsnodes -av -F json": "pbspro/firecrest_openpbs23_pbsnodes_a_F_json.json",
            "pbs_rstat -F": "pbspro/documented_pbs_rstat_F_advance_and_standing.txt",
        },
        ["qstat -f -F json"],
    ),
}


class CountingRunner(CommandRunner):
    """The real runner, noting which commands went through ``stream``."""

    streamed: list[str]

    def stream(
        self,
        argv: Sequence[str],
        parse: Callable[[Iterator[bytes]], T],
        *,
        ok_codes: Sequence[int] = (0,),
    ) -> T:
        self.streamed.append(" ".join(argv))
        return super().stream(argv, parse, ok_codes=ok_codes)


class WholeText:
    """A runner with only ``run``, as the tests' recording fakes are: the whole output."""

    def __init__(self, outputs: dict[str, str]) -> None:
        self.outputs = outputs

    def run(self, argv: Sequence[str], **_: Any) -> str:
        path = self.outputs.get(" ".join(argv))
        if path is None:
            raise LRMError("failed", argv, 1, f"{argv[0]}: {UNSUPPORTED}")
        return (FIXTURES / path).read_text()


def fake_lrm(tmp_path: Path, outputs: dict[str, str]) -> dict[str, str]:
    script = tmp_path / "fake_lrm.py"
    script.write_text(FAKE)
    commands = {"qstat", "qhost", "qrstat", "squeue", "sinfo", "scontrol", "pbsnodes", "pbs_rstat"}
    for command in commands:
        binary = tmp_path / command
        binary.write_text(f"#!{sys.executable}\nexec(open({str(script)!r}).read())\n")
        binary.chmod(0o755)
    table = {command: str(FIXTURES / path) for command, path in outputs.items()}
    return {"PATH": f"{tmp_path}:{os.environ['PATH']}", "FAKE_LRM_OUTPUTS": json.dumps(table)}


@pytest.mark.parametrize("case", list(CASES))
def test_the_biggest_listing_is_streamed_and_reads_as_the_whole_text(
    case: str, tmp_path: Path
) -> None:
    make, outputs, big = CASES[case]
    runner = CountingRunner(10, fake_lrm(tmp_path, outputs))
    runner.streamed = []
    streamed: QueueSnapshot = make(runner).snapshot()
    assert runner.streamed == big
    assert streamed.jobs
    assert streamed == make(WholeText(outputs)).snapshot()


#: a Slurm without --json that still prints something before it refuses the option
HALF_JSON_THEN_REFUSED = """\
import sys
sys.stdout.write('{"meta": {"plugin": {"type": "openapi/v0.0')
sys.stdout.flush()
sys.stderr.write("squeue: unrecognized option '--json'\\n")
sys.exit(1)
"""


def slurm_outputs() -> dict[str, str]:
    return CASES["slurm scontrol"][1]


def test_a_refused_json_listing_falls_back_though_its_partial_output_is_not_json(
    tmp_path: Path,
) -> None:
    """The parser finds the cut JSON garbled before the exit status is known; the
    command's own error (exit 1, "unrecognized option") wins, so scontrol is read."""
    env = fake_lrm(tmp_path, slurm_outputs())
    squeue = tmp_path / "squeue"
    squeue.write_text(f"#!{sys.executable}\n{HALF_JSON_THEN_REFUSED}")
    snapshot = SlurmAdapter(CommandRunner(10, env), []).snapshot()
    assert [j.id for j in snapshot.jobs] == ["2", "3"]  # the scontrol fixture's jobs


def test_a_cut_json_listing_from_a_command_that_succeeded_is_a_parse_error(
    tmp_path: Path,
) -> None:
    """Exit 0 with half a document is a broken reading, not a Slurm without --json."""
    cut = tmp_path / "cut.json"
    whole = (FIXTURES / "slurm/slurmweb_slurmrestd_25.05_v0.0.41_jobs.json").read_text()
    cut.write_text(whole[: len(whole) // 2])
    outputs = {**slurm_outputs(), "squeue --json": str(cut)}
    with pytest.raises(LRMParseError, match="squeue --json"):
        SlurmAdapter(CommandRunner(10, fake_lrm(tmp_path, outputs)), []).snapshot()
