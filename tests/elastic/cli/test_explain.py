"""``elastic explain`` through the CLI, on the README's embedded site (issue 12): every VO
that is short is told the binding limit with its figures; a job is traced to its VO, its
match rule and whether it is demand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from elastic.cli import EXIT_CONFIG, EXIT_OK, main
from elastic.ledger import Ledger


@pytest.fixture
def capped_site(embedded_site: Path) -> Path:
    """The embedded site, with VO atlas allowed one cloud node and boots not capped."""
    data = yaml.safe_load(embedded_site.read_text())
    data["policy"]["max_boots_per_pass"] = 50
    for vo in data["vos"]:
        if vo["name"] == "atlas":
            vo["cloud"]["max_nodes"] = 1
    embedded_site.write_text(yaml.safe_dump(data))
    return embedded_site


def explained(site: Path, capsys, *args: str) -> dict:
    assert main(["-c", str(site), "explain", *args, "--json"]) == EXIT_OK
    return json.loads(capsys.readouterr().out)


def test_explain_names_the_cloud_cap_with_its_figures(capped_site, capsys):
    (atlas,) = explained(capped_site, capsys, "atlas")["explanations"]
    decision = atlas["decision"]
    assert decision["boots_cloud"] == 1
    (short,) = decision["short"]
    assert short["cause"] == "vo_cloud_max_nodes"
    assert (short["limit"], short["held"]) == (1, 1)
    assert short["also"]["cause"] == "no_local_room"
    booted = decision["boots_local"] + decision["boots_cloud"]
    assert decision["wanted"] == booted + decision["reclaimed"] + short["count"]
    assert Ledger.open(capped_site.parent / "var" / "elastic.db").nodes() == []  # dry run


def test_explain_text_fits_80_columns_and_names_every_short_vo(capped_site, capsys):
    assert main(["-c", str(capped_site), "explain"]) == EXIT_OK
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "VO atlas" in out and "VO cms" in out
    assert re.search(r"\d+ short: VO atlas cloud.max_nodes 1 reached \(1 in use\)", out)
    assert "cloud limits or boot budget" not in out


def test_explain_a_job_too_big_for_its_vo(embedded_site, capsys):
    (job,) = explained(embedded_site, capsys, "--job", "105")["explanations"]
    assert (job["vo"], job["rule"]) == ("atlas", "match.project=atlas")
    assert job["demand"] is False
    assert job["why_not"] == "too big: needs 64 cores per host; VO atlas flavor has 4"
    assert job["vo_explanation"]["vo"] == "atlas"


def test_explain_a_held_job_and_a_demand_job(embedded_site, capsys):
    (held,) = explained(embedded_site, capsys, "--job", "104")["explanations"]
    assert held["demand"] is False and held["why_not"].startswith("held by the LRM")
    (demand,) = explained(embedded_site, capsys, "--job", "101")["explanations"]
    assert demand["demand"] is True and demand["vo"] == "atlas"


def test_explain_an_unknown_job_and_an_unknown_vo(embedded_site, capsys):
    (job,) = explained(embedded_site, capsys, "--job", "nope")["explanations"]
    assert job["found"] is False
    assert main(["-c", str(embedded_site), "explain", "lhcb"]) == EXIT_CONFIG
    assert "no VO named lhcb" in capsys.readouterr().err
