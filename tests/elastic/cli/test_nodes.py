"""``nodes`` (a failed or gone node's cause) and ``drain`` (through the Actuator)."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select

from elastic.cli import EXIT_NO_NODE, EXIT_OK, main
from elastic.config import load_site
from elastic.ledger import Ledger, intents_table
from elastic.model import NodeState, ProviderKind
from elastic.wiring import build_lrm
from tests.factories import record

BOOT_ERROR = "ProviderError: hv1: no volume atlas-base.qcow2 in pool default"
DARK = "dark: the LRM shows it absent for 620 s (dark_timeout_s=600)"
RETIRED = "failed and empty (LRM state absent)"


def add_node(ledger: Ledger, node_id: str, state: NodeState, at: float = 100.0) -> None:
    row = record(node_id, state, provider=ProviderKind.LIBVIRT, location="hv1", at=at)
    ledger.add(row, "requested: pending jobs of atlas need nodes")


def test_drain_of_an_unknown_node(site_file, capsys):
    assert main(["--config", str(site_file), "drain", "nope"]) == EXIT_NO_NODE
    assert "no live node nope" in capsys.readouterr().err


def test_nodes_and_status(site_file, capsys):
    assert main(["--config", str(site_file), "nodes"]) == EXIT_OK
    assert "no nodes" in capsys.readouterr().out
    assert main(["--config", str(site_file), "status", "--json"]) == EXIT_OK
    status = json.loads(capsys.readouterr().out)
    assert status["lrm_read"] is True and status["pending_by_vo"] == {"atlas": 1}


def test_drain_goes_through_the_actuator(site_file, ledger, capsys):
    """An intent opened and closed done, the LRM told, DRAINING with its event."""
    node_id = "clitest-atlas-00001"
    build_lrm(load_site(site_file)).register_node(node_id, "atlas")
    add_node(ledger, node_id, NodeState.READY)
    argv = ["drain", node_id, "-c", str(site_file), "--reason", "kernel update"]
    assert main(argv) == EXIT_OK
    assert f"{node_id}: draining (kernel update)" in capsys.readouterr().out
    record = ledger.get(node_id)
    assert record is not None and record.state is NodeState.DRAINING
    assert record.reason == "kernel update"
    database = create_engine(f"sqlite:///{site_file.parent / 'var' / 'elastic.db'}")
    with database.connect() as db:
        intents = list(db.execute(select(intents_table)))
    assert [(i.node_id, i.kind, i.outcome) for i in intents] == [(node_id, "drain", "done")]
    assert intents[0].closed_at is not None
    assert ledger.open_intents() == []
    events = [(e.kind, e.message) for e in ledger.events(node_id=node_id)]
    assert events[-1] == ("draining", "kernel update")
    [lrm_node] = [n for n in build_lrm(load_site(site_file)).snapshot().nodes if n.name == node_id]
    assert lrm_node.state in {"draining", "drained"}


def test_nodes_all_shows_why_a_node_failed_not_how_it_was_retired(site_file, ledger, capsys):
    add_node(ledger, "boot-failed", NodeState.REQUESTED)
    ledger.set_state("boot-failed", NodeState.FAILED, 110.0, BOOT_ERROR)
    add_node(ledger, "went-dark", NodeState.READY)
    ledger.update("went-dark", 120.0, state=NodeState.FAILED, reason=DARK)
    ledger.event(120.0, "reconcile", DARK, "went-dark")  # what the engine writes for it
    for node_id in ("boot-failed", "went-dark"):
        ledger.set_state(node_id, NodeState.RETIRING, 130.0, RETIRED)
        ledger.set_state(node_id, NodeState.GONE, 131.0, RETIRED)
    add_node(ledger, "still-failed", NodeState.REQUESTED)
    ledger.set_state("still-failed", NodeState.FAILED, 140.0, BOOT_ERROR)
    ledger.event(150.0, "destroy-failed", "LRMError: qconf timed out", "still-failed")

    assert main(["-c", str(site_file), "nodes", "--all"]) == EXIT_OK
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert BOOT_ERROR[:40] in rows["boot-failed"]
    assert DARK[:40] in rows["went-dark"]
    assert "failed and empty" not in rows["boot-failed"] + rows["went-dark"]
    assert BOOT_ERROR[:40] in rows["still-failed"]

    assert main(["-c", str(site_file), "nodes", "--all", "--json"]) == EXIT_OK
    causes = {n["id"]: n["cause"] for n in json.loads(capsys.readouterr().out)}
    assert causes["boot-failed"] == BOOT_ERROR
    assert causes["went-dark"] == DARK
    assert causes["still-failed"] == f"{BOOT_ERROR}; then destroy-failed: LRMError: qconf timed out"
