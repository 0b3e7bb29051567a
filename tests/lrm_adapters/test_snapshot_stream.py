"""The adapters read their biggest listing through ``CommandRunner.stream`` (SGE's qstat
-xml, Slurm's scontrol fallback, Torque's qstat -f): real processes on PATH printing real
outputs, and the snapshot the same as from the whole text."""

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
from lrm_adapters.base import LRMError
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
CASES: dict[str, tuple[Callable[[Any], Any], dict[str, str], str]] = {
    "sge": (
        lambda runner: SgeAdapter(runner, []),
        {
            SGE_QSTAT: "sge/debian_sge819_qstat_u_r_ext_xml.xml",
            "qhost -xml": "sge/debian_sge819_qhost_xml.xml",
            "qrstat -xml -u *": "sge/debian_sge819_qrstat_xml_u_all_empty.xml",
        },
        SGE_QSTAT,
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
        "scontrol -o show jobs",
    ),
    "torque qstat -f": (
        lambda runner: PbsAdapter(runner, flavor="torque"),
        {
            "qstat -f": "torque/dirac_rrcki_qstat_f_torque6_running.txt",
            "pbsnodes -x": "torque/goove_fzu_pbsnodes_x_trimmed.xml",
        },
        "qstat -f",
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
    for command in {"qstat", "qhost", "qrstat", "squeue", "sinfo", "scontrol", "pbsnodes"}:
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
    assert runner.streamed == [big]
    assert streamed.jobs
    assert streamed == make(WholeText(outputs)).snapshot()
