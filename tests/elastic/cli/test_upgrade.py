"""``elastic upgrade`` on the site's ledger: a ledger from before migrations is copied,
brought forward and stamped, and the command says so; a second run finds nothing to do;
one a newer elastic wrote is refused with one line (exit 2) by every command."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from elastic.cli import EXIT_CONFIG, EXIT_OK, main
from tests.elastic.test_migrate import old_ledger


def test_upgrade_brings_an_old_ledger_forward_and_says_how(site_file: Path, capsys):
    ledger_file = site_file.parent / "var" / "elastic.db"
    old_ledger(str(ledger_file), "c0ff761")
    assert main(["upgrade", "-c", str(site_file)]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    [backup] = ledger_file.parent.glob("elastic.db.bak-*")
    assert out[0] == f"backup copy: {backup}"
    assert "from before migrations" in out[1] and "stamped 0001" in out[1]
    assert out[-1] == f"ledger sqlite:///{ledger_file}: upgraded from revision none to 0001"
    assert main(["upgrade", "-c", str(site_file)]) == EXIT_OK
    again = capsys.readouterr().out
    assert (
        again.strip()
        == f"ledger sqlite:///{ledger_file}: at revision 0001 (current); nothing to do"
    )
    assert len(list(ledger_file.parent.glob("elastic.db.bak-*"))) == 1
    assert main(["nodes", "-c", str(site_file)]) == EXIT_OK  # the rows are there
    assert "site-atlas-1" in capsys.readouterr().out


def test_a_ledger_from_a_newer_elastic_stops_every_command_with_one_line(site_file, capsys):
    ledger_file = site_file.parent / "var" / "elastic.db"
    assert main(["upgrade", "-c", str(site_file)]) == EXIT_OK
    assert "new, created at revision 0001" in capsys.readouterr().out
    engine = create_engine(f"sqlite:///{ledger_file}")
    with engine.begin() as tx:
        tx.execute(text("UPDATE alembic_version SET version_num = 'abc123'"))
    engine.dispose()
    for command in (["upgrade"], ["nodes"], ["plan"]):
        assert main([*command, "-c", str(site_file)]) == EXIT_CONFIG
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "revision abc123, which this elastic does not know" in err[0]
