"""The ledger: nodes, intents and events survive a reopen; serials never repeat; older
ledgers gain new columns in place. Every test runs on SQLite and on a real PostgreSQL
(scripts/services/postgresql-up), through the URL a site would write in ``site.state``."""

from __future__ import annotations

import gc
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, inspect, text

from elastic.cli import main
from elastic.config import load_site
from elastic.ledger import Ledger
from elastic.model import BootBackoff, NodeRecord, NodeState, ProviderKind
from elastic.wiring import build_engine
from tests import factories
from tests.integration.conftest import require, service_env

# The columns an older elastic's ``nodes`` table had: before dark_since and last_running.
OLD_NODES_TABLE = """
CREATE TABLE nodes (
    id VARCHAR(64) PRIMARY KEY, vo VARCHAR(64) NOT NULL, provider VARCHAR(16) NOT NULL,
    location VARCHAR(255) NOT NULL, instance_id VARCHAR(255) NOT NULL,
    instance_type VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, cores INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL, hourly_cost FLOAT NOT NULL, created_at FLOAT NOT NULL,
    state_since FLOAT NOT NULL, boot_deadline FLOAT, idle_since FLOAT, reason TEXT NOT NULL
)
"""
OLD_ROW = """
INSERT INTO nodes VALUES ('old-1', 'atlas', 'ec2', 'eu-west-1', 'i-0ld', 'c5.large', 'ready',
    4, 8000, 0.2, 10.0, 20.0, NULL, 30.0, 'joined')
"""


def record(node_id: str, state: NodeState = NodeState.REQUESTED) -> NodeRecord:
    return factories.record(node_id, state, location="eu-west-1", at=1.0)


def raw_engine(where: str) -> Engine:
    """An engine on the ledger's database that does not go through ``Ledger.open``."""
    if "://" not in where:
        return create_engine(f"sqlite:///{where}")
    return create_engine(where.replace("postgresql://", "postgresql+psycopg://", 1))


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The test server's URL (``postgresql://``, as an admin writes it), once it answers."""
    url = service_env("postgresql").get("ELASTIC_TEST_PG_URL", "")
    require(url.startswith("postgresql://"), "postgresql.env has no ELASTIC_TEST_PG_URL")
    engine = raw_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        require(False, f"PostgreSQL does not answer: {exc}")
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_where(pg_url: str) -> Iterator[str]:
    """A clean, empty schema of its own for each test (tests and test runs may share the
    server at once), reached through the connection's search_path; dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = raw_engine(pg_url)
    with admin.begin() as tx:
        tx.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{pg_url}?options=-csearch_path%3D{schema}&application_name={schema}"
    finally:
        gc.collect()  # the test's ledgers: their pooled connections close with them
        with admin.begin() as tx:
            tx.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a ledger lives, as ``site.state`` would name it: a file path (in a folder that
    does not exist yet) or the PostgreSQL server's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "sub" / "ledger.db")
    return str(request.getfixturevalue("pg_where"))


def test_nodes_intents_and_events_survive_a_restart(where: str):
    ledger = Ledger.open(where)
    ledger.add(record("n1"), "requested")
    intent = ledger.open_intent("n1", "boot", 2.0, "pending jobs")
    ledger.update("n1", 3.0, state=NodeState.BOOTING, instance_id="i-123")
    reopened = Ledger.open(where)  # as after a crash
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


def test_serials_are_never_handed_out_twice(where: str):
    ledger = Ledger.open(where)
    assert ledger.peek_serial() == 1
    assert ledger.reserve_serials(3) == 1
    assert ledger.reserve_serials(2) == 4
    assert Ledger.open(where).peek_serial() == 6


def test_a_gone_name_can_come_back(where: str):
    ledger = Ledger.open(where)
    ledger.add(record("n1"), "first life")
    ledger.set_state("n1", NodeState.GONE, 2.0, "destroyed")
    ledger.add(record("n1"), "second life")
    assert [n.state for n in ledger.nodes(include_gone=True)] == [NodeState.REQUESTED]
    assert [e.message for e in ledger.events(node_id="n1")] == [
        "first life",
        "destroyed",
        "second life",
    ]


def test_an_older_ledger_gains_the_new_columns_and_keeps_its_rows(where: str):
    """A ledger from before dark_since/last_running (issue 10) opens in place."""
    if "://" not in where:
        Path(where).parent.mkdir(parents=True)
    engine = raw_engine(where)
    with engine.begin() as tx:
        tx.execute(text(OLD_NODES_TABLE))
        tx.execute(text(OLD_ROW))
    ledger = Ledger.open(where)
    columns = {c["name"] for c in inspect(engine).get_columns("nodes")}
    engine.dispose()
    assert {"dark_since", "last_running"} <= columns
    node = ledger.get("old-1")
    assert node is not None
    assert (node.state, node.instance_id, node.idle_since) == (NodeState.READY, "i-0ld", 30.0)
    assert (node.dark_since, node.last_running) == (None, 0)
    ledger.update("old-1", 40.0, dark_since=35.0, last_running=3)
    reopened = Ledger.open(where).get("old-1")  # a second open finds nothing to add
    assert reopened is not None
    assert (reopened.dark_since, reopened.last_running) == (35.0, 3)


def test_two_openers_of_an_older_ledger_both_succeed(where: str, monkeypatch):
    """A daemon starting on an older ledger while ``elastic nodes`` opens it too: both saw
    the old columns, one adds them first, and the other must not fail on its ALTER."""
    import elastic.ledger

    if "://" not in where:
        Path(where).parent.mkdir(parents=True)
    engine = raw_engine(where)
    with engine.begin() as tx:
        tx.execute(text(OLD_NODES_TABLE))
        tx.execute(text(OLD_ROW))
    elastic.ledger.metadata.create_all(engine)
    stale = inspect(engine)  # the second opener's view, taken before the first one's ALTERs
    for table in elastic.ledger.metadata.sorted_tables:
        stale.get_columns(table.name)
    Ledger.open(where)  # the first opener adds the columns
    views = iter([stale])
    monkeypatch.setattr(elastic.ledger, "inspect", lambda bind: next(views, None) or inspect(bind))
    node = Ledger.open(where).get("old-1")
    engine.dispose()
    assert node is not None and node.last_running == 0


def test_backoffs_round_trip_and_clear(where: str):
    ledger = Ledger.open(where)
    first = BootBackoff(
        "atlas", ProviderKind.EC2, "eu-west-1/c5.large", 1, 1_700_000_060.25, "boom"
    )
    ledger.put_backoff(first, 1_700_000_000.0)
    again = BootBackoff(
        "atlas", ProviderKind.EC2, "eu-west-1/c5.large", 2, 1_700_000_180.5, "again"
    )
    ledger.put_backoff(again, 1_700_000_060.0)  # the same target: updated, not added
    local = BootBackoff("cms", ProviderKind.LIBVIRT, "hv1", 1, 1_700_000_100.0)
    ledger.put_backoff(local, 1_700_000_000.0)
    assert Ledger.open(where).backoffs() == [again, local]
    ledger.clear_backoff("atlas", ProviderKind.EC2, "eu-west-1/c5.large")
    assert Ledger.open(where).backoffs() == [local]


def test_marks_round_trip_and_forget(where: str):
    ledger = Ledger.open(where)
    assert ledger.mark("lrm_running") is None
    ledger.set_mark("lrm_running", 12.0)
    ledger.set_mark("heartbeat", 1_700_000_000.125)
    ledger.set_mark("lrm_running", 7.0)
    reopened = Ledger.open(where)
    assert (reopened.mark("lrm_running"), reopened.mark("heartbeat")) == (7.0, 1_700_000_000.125)
    reopened.set_mark("lrm_running", None)
    assert Ledger.open(where).mark("lrm_running") is None


def test_a_sqlite_url_works(tmp_path: Path):
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'url.db'}")
    ledger.add(record("n2"), "x")
    assert Ledger.open(tmp_path / "url.db").get("n2") is not None


@pytest.mark.postgresql
@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_every_postgresql_spelling_opens_the_server_with_psycopg(pg_where: str, scheme: str):
    """``postgres://`` is unknown to SQLAlchemy and ``postgresql://`` means psycopg2, which
    elastic does not install: both must reach the server through psycopg 3."""
    Ledger.open(pg_where).add(record("n3"), "x")
    url = pg_where.replace("postgresql://", f"{scheme}://", 1)
    node = Ledger.open(url).get("n3")
    assert node is not None and node.id == "n3"


@pytest.mark.postgresql
def test_a_server_side_disconnect_between_passes_is_survived(pg_where: str):
    """The daemon keeps its pool between passes; a server restart or an idle timeout cuts
    those connections, and the next pass must reconnect rather than fail (pool_pre_ping)."""
    ledger = Ledger.open(pg_where)
    ledger.add(record("n4"), "x")
    application = pg_where.rsplit("application_name=", 1)[1]
    admin = raw_engine(pg_where)
    with admin.begin() as tx:
        killed = tx.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE application_name = :name AND pid <> pg_backend_pid()"
            ),
            {"name": application},
        ).scalar_one()
    admin.dispose()
    assert killed >= 1  # the ledger's pooled connection was there, and is now dead
    assert [n.id for n in ledger.nodes()] == ["n4"]


@pytest.mark.postgresql
def test_a_site_on_postgresql_keeps_its_ledger_there(pg_where: str, tmp_path: Path, capsys):
    """Issue 10: ``site.state: postgresql://…`` used to become a SQLite file under the
    site folder, and ``elastic nodes`` listed that empty file's nodes."""
    Ledger.open(pg_where).add(record("on-the-server"), "booted by another pass")
    site_file = tmp_path / "site.yaml"
    site_file.write_text(
        "site:\n  name: pgsite\n"
        f"  state: {json.dumps(pg_where)}\n"
        "lrm:\n  kind: sge\n"
        "vos:\n  - name: atlas\n    match: {project: [atlas]}\n"
        "    flavor: {cores: 4, memory_mb: 8192}\n"
    )
    assert main(["--config", str(site_file), "nodes", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [n["id"] for n in listed] == ["on-the-server"]
    engine = build_engine(load_site(site_file))  # what run-once and the daemon open
    assert [n.id for n in engine.ledger.nodes()] == ["on-the-server"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.yaml"]


def test_events_by_node_groups_many_nodes_oldest_first(where: str):
    ledger = Ledger.open(where)
    names = [f"n{i:04d}" for i in range(1203)]  # more than one query's chunk
    for i, name in enumerate(names):
        ledger.event(float(i), "booting", f"VM of {name}", name)
    ledger.event(9999.0, "boot-failed", "InsufficientInstanceCapacity", "n0007")
    ledger.event(9999.5, "pass", "site-wide, no node", None)
    got = ledger.events_by_node([*names, "unknown"])
    assert set(got) == {*names, "unknown"} and got["unknown"] == []
    assert [e.kind for e in got["n0007"]] == ["booting", "boot-failed"]
    assert all(len(got[n]) == 1 and got[n][0].node_id == n for n in names if n != "n0007")
