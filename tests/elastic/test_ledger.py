"""The ledger: nodes, intents and events survive a reopen; serials never repeat."""

from __future__ import annotations

from pathlib import Path

from elastic.ledger import Ledger, NodeRecord
from elastic.model import NodeState, ProviderKind


def record(node_id: str, state: NodeState = NodeState.REQUESTED) -> NodeRecord:
    return NodeRecord(node_id, "atlas", ProviderKind.EC2, "eu-west-1", state, 4, 8000, 1.0, 1.0)


def test_nodes_intents_and_events_survive_a_restart(tmp_path: Path):
    path = tmp_path / "sub" / "ledger.db"
    ledger = Ledger.open(path)
    ledger.add(record("n1"), "requested")
    intent = ledger.open_intent("n1", "boot", 2.0, "pending jobs")
    ledger.update("n1", 3.0, state=NodeState.BOOTING, instance_id="i-123")
    reopened = Ledger.open(path)  # as after a crash
    node = reopened.get("n1")
    assert node is not None
    assert (node.state, node.instance_id, node.state_since) == (NodeState.BOOTING, "i-123", 3.0)
    assert [i.id for i in reopened.open_intents()] == [intent]
    reopened.close_intent(intent, 4.0, ok=False, detail="InsufficientInstanceCapacity")
    assert reopened.open_intents() == []
    reopened.set_state("n1", NodeState.GONE, 5.0, "destroyed")
    assert reopened.nodes() == []
    assert [n.id for n in reopened.nodes(include_gone=True)] == ["n1"]
    assert [e.kind for e in reopened.events(node_id="n1")] == ["node", "gone"]


def test_serials_are_never_handed_out_twice(tmp_path: Path):
    ledger = Ledger.open(tmp_path / "l.db")
    assert ledger.peek_serial() == 1
    assert ledger.reserve_serials(3) == 1
    assert ledger.reserve_serials(2) == 4
    assert Ledger.open(tmp_path / "l.db").peek_serial() == 6


def test_sqlalchemy_url_works(tmp_path: Path):
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'url.db'}")
    ledger.add(record("n2"), "x")
    assert ledger.get("n2") is not None
