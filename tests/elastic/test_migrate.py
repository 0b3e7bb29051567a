"""Ledger migrations (elastic.migrate): a new ledger is migrated to exactly the schema the
code writes; a ledger from before migrations keeps every row, is copied first (SQLite)
and is stamped; one from a newer elastic is refused untouched; two openers take turns.
Each runs on SQLite and on a real PostgreSQL (scripts/services/postgresql-up)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from filelock import FileLock
from sqlalchemy import Engine, inspect, text

from elastic.ledger import Ledger, metadata
from elastic.migrate import BASELINE, LedgerVersionError, head_revision, upgrade_ledger
from elastic.migrations.baseline import baseline_metadata
from elastic.model import NodeState, ProviderKind
from tests.elastic import test_ledger
from tests.elastic.test_ledger import raw_engine

# the ledger tests' fixtures: a SQLite file, and a schema of its own on the PostgreSQL server
where, pg_where, pg_url = test_ledger.where, test_ledger.pg_where, test_ledger.pg_url

# The ledger of elastic before backoffs, marks and reservations existed, and before
# nodes had dark_since and last_running (elastic/ledger.py at c0ff761), as plain SQL.
SCHEMA_C0FF761 = [
    """CREATE TABLE nodes (
        id VARCHAR(64) NOT NULL PRIMARY KEY, vo VARCHAR(64) NOT NULL,
        provider VARCHAR(16) NOT NULL, location VARCHAR(255) NOT NULL,
        instance_id VARCHAR(255) NOT NULL, instance_type VARCHAR(64) NOT NULL,
        state VARCHAR(16) NOT NULL, cores INTEGER NOT NULL, memory_mb INTEGER NOT NULL,
        hourly_cost FLOAT NOT NULL, created_at FLOAT NOT NULL, state_since FLOAT NOT NULL,
        boot_deadline FLOAT, idle_since FLOAT, reason TEXT NOT NULL)""",
    """CREATE TABLE intents (
        id INTEGER NOT NULL PRIMARY KEY, node_id VARCHAR(64) NOT NULL,
        kind VARCHAR(16) NOT NULL, opened_at FLOAT NOT NULL, closed_at FLOAT,
        outcome VARCHAR(16), detail TEXT NOT NULL)""",
    "CREATE INDEX ix_intents_node_id ON intents (node_id)",
    """CREATE TABLE events (
        id INTEGER NOT NULL PRIMARY KEY, at FLOAT NOT NULL, node_id VARCHAR(64),
        kind VARCHAR(32) NOT NULL, message TEXT NOT NULL)""",
    """CREATE TABLE counters (
        name VARCHAR(32) NOT NULL PRIMARY KEY, value INTEGER NOT NULL)""",
]
ROWS_C0FF761 = [
    """INSERT INTO nodes VALUES ('site-atlas-1', 'atlas', 'ec2', 'eu-west-1', 'i-0ld',
        'c5.large', 'ready', 4, 8000, 0.2, 10.0, 20.0, NULL, 30.0, 'joined')""",
    """INSERT INTO nodes VALUES ('site-cms-2', 'cms', 'libvirt', 'hv1', 'site-cms-2', '',
        'draining', 8, 16000, 0.0, 11.0, 21.0, 900.0, NULL, 'idle 900 s')""",
    "INSERT INTO intents VALUES (1, 'site-atlas-1', 'boot', 10.0, 12.0, 'done', '')",
    "INSERT INTO intents VALUES (2, 'site-cms-2', 'destroy', 22.0, NULL, NULL, 'idle')",
    "INSERT INTO events VALUES (1, 10.0, 'site-atlas-1', 'node', 'requested')",
    "INSERT INTO events VALUES (2, 21.0, 'site-cms-2', 'draining', 'idle 900 s')",
    "INSERT INTO events VALUES (3, 22.0, NULL, 'pass', '1 action(s), 0 failed')",
    "INSERT INTO counters VALUES ('serial', 2)",
]
# Later (79a83a5 .. 2da802f^): backoffs and marks, dark_since and last_running; no
# reservations yet.
SCHEMA_79A83A5 = [
    SCHEMA_C0FF761[0].replace(
        "reason TEXT NOT NULL)",
        "reason TEXT NOT NULL, dark_since FLOAT, last_running INTEGER DEFAULT '0' NOT NULL)",
    ),
    *SCHEMA_C0FF761[1:],
    """CREATE TABLE backoffs (
        target VARCHAR(255) NOT NULL PRIMARY KEY, vo VARCHAR(64) NOT NULL,
        provider VARCHAR(16) NOT NULL, location VARCHAR(255) NOT NULL,
        failures INTEGER NOT NULL, until FLOAT NOT NULL, last_error TEXT NOT NULL,
        updated_at FLOAT NOT NULL)""",
    "CREATE TABLE marks (name VARCHAR(64) NOT NULL PRIMARY KEY, value FLOAT NOT NULL)",
]
ROWS_79A83A5 = [
    row.replace("'joined')", "'joined', 25.0, 3)").replace(
        "'idle 900 s')", "'idle 900 s', NULL, 0)"
    )
    if row.startswith("INSERT INTO nodes")
    else row
    for row in ROWS_C0FF761
] + [
    """INSERT INTO backoffs VALUES ('atlas|ec2|eu-west-1/c5.large', 'atlas', 'ec2',
        'eu-west-1/c5.large', 2, 500.0, 'InsufficientInstanceCapacity', 400.0)""",
    "INSERT INTO marks VALUES ('lrm_running_jobs', 7.0)",
]
# A c0ff761 ledger that a later elastic opened before migrations existed: it added the
# new columns in place, last_running as a nullable column with its default.
SCHEMA_ALTERED = [
    SCHEMA_79A83A5[0].replace(
        "last_running INTEGER DEFAULT '0' NOT NULL", "last_running INTEGER DEFAULT 0"
    ),
    *SCHEMA_79A83A5[1:],
]
ROWS_ALTERED = [
    row.replace("'idle 900 s', NULL, 0)", "'idle 900 s', NULL, NULL)") for row in ROWS_79A83A5
]
ERAS = {
    "c0ff761": (SCHEMA_C0FF761, ROWS_C0FF761),
    "79a83a5": (SCHEMA_79A83A5, ROWS_79A83A5),
    "altered": (SCHEMA_ALTERED, ROWS_ALTERED),
}
OLD_TABLES = ["nodes", "intents", "events", "counters", "backoffs", "marks"]


def schema_drift(engine: Engine) -> list[object]:
    """What autogenerate would write to bring the database to ``elastic.ledger.metadata``
    (types and server defaults compared too): nothing, when they are the same."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, metadata))


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def old_ledger(where: str, era: str) -> dict[str, list[tuple[object, ...]]]:
    """Write a pre-migration ledger of that era at ``where``; its rows, by table."""
    if "://" not in where:
        Path(where).parent.mkdir(parents=True, exist_ok=True)
    schema, rows = ERAS[era]
    engine = raw_engine(where)
    with engine.begin() as tx:
        for statement in [*schema, *rows]:
            tx.execute(text(statement))
    found = table_rows(engine, inspect(engine).get_table_names())
    engine.dispose()
    return found


def table_rows(engine: Engine, tables: list[str]) -> dict[str, list[tuple[object, ...]]]:
    found = {}
    with engine.connect() as connection:
        for table in tables:
            if table in OLD_TABLES:
                quoted = engine.dialect.identifier_preparer.quote(table)
                result = connection.execute(text(f"SELECT * FROM {quoted} ORDER BY 1"))
                found[table] = [tuple(row) for row in result]
    return found


def test_a_new_ledger_is_migrated_to_exactly_the_schema_the_code_writes(where: str):
    """Migration 0001 creates every table and column of ``metadata``; a column added to
    the ledger without a migration fails here."""
    Ledger.open(where)
    engine = raw_engine(where)
    try:
        assert revision(engine) == head_revision()
        assert schema_drift(engine) == []
        assert set(inspect(engine).get_table_names()) == {*metadata.tables, "alembic_version"}
    finally:
        engine.dispose()


def test_the_baseline_is_todays_schema():
    """``baseline_metadata`` (frozen) and the ledger's tables, column by column."""

    def shape(meta: object) -> dict[str, list[tuple[str, str, bool, bool]]]:
        return {
            t.name: [(c.name, repr(c.type), c.nullable, c.primary_key) for c in t.columns]
            for t in meta.sorted_tables  # type: ignore[attr-defined]
        }

    assert shape(baseline_metadata()) == shape(metadata)
    assert head_revision() == BASELINE  # a second migration makes this test a history


@pytest.mark.parametrize("era", sorted(ERAS))
def test_a_ledger_from_before_migrations_keeps_every_row(where: str, era: str):
    before = old_ledger(where, era)
    ledger = Ledger.open(where)
    engine = raw_engine(where)
    try:
        assert revision(engine) == BASELINE
        assert schema_drift(engine) == []
        after = table_rows(engine, list(before))
    finally:
        engine.dispose()
    if era == "altered":  # its NULL last_running is the column's default now
        before["nodes"] = [
            (*row[:-1], 0 if row[-1] is None else row[-1]) for row in before["nodes"]
        ]
    for table, rows in before.items():  # every old column of every old row, as it was
        width = len(rows[0])
        assert [row[:width] for row in after[table]] == rows, table
    atlas = ledger.get("site-atlas-1")
    assert atlas is not None
    assert (atlas.state, atlas.provider, atlas.idle_since) == (
        NodeState.READY,
        ProviderKind.EC2,
        30.0,
    )
    expected_dark = (None, 0) if era == "c0ff761" else (25.0, 3)
    assert (atlas.dark_since, atlas.last_running) == expected_dark
    assert [i.node_id for i in ledger.open_intents()] == ["site-cms-2"]
    assert [e.kind for e in ledger.events()] == ["node", "draining", "pass"]
    assert ledger.peek_serial() == 3
    if era != "c0ff761":
        assert [b.failures for b in ledger.backoffs()] == [2]
        assert ledger.mark("lrm_running_jobs") == 7.0
    assert ledger.reservations() == []
    ledger.next_reservation_id()  # the new tables take writes
    assert Ledger.open(where).peek_serial() == 3  # a second open finds nothing to do


def test_a_sqlite_ledger_is_copied_before_it_is_upgraded(tmp_path: Path):
    where = str(tmp_path / "var" / "elastic.db")
    before = old_ledger(where, "c0ff761")
    engine = raw_engine(where)
    at = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    done = upgrade_ledger(engine, now=at)
    again = upgrade_ledger(engine, now=at)
    engine.dispose()
    assert done.backup == tmp_path / "var" / "elastic.db.bak-20250304T050607Z"
    assert done.pre_migration and done.changed and (done.before, done.after) == (None, "0001")
    assert not again.changed and again.backup is None  # nothing to do: no second copy
    copy = sqlite3.connect(done.backup)
    try:
        tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        nodes = copy.execute("SELECT * FROM nodes ORDER BY 1").fetchall()
    finally:
        copy.close()
    assert tables == set(before)  # the old ledger as it was: no alembic_version, no new table
    assert nodes == before["nodes"]


def test_a_backup_never_overwrites_an_older_copy(tmp_path: Path):
    where = str(tmp_path / "elastic.db")
    old_ledger(where, "c0ff761")
    taken = tmp_path / "elastic.db.bak-20250304T050607Z"
    taken.write_text("an earlier copy")
    engine = raw_engine(where)
    done = upgrade_ledger(engine, now=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC))
    engine.dispose()
    assert done.backup == tmp_path / "elastic.db.bak-20250304T050607Z.1"
    assert taken.read_text() == "an earlier copy"


def test_a_new_ledger_is_not_copied(tmp_path: Path):
    engine = raw_engine(str(tmp_path / "elastic.db"))
    done = upgrade_ledger(engine)
    engine.dispose()
    assert done.fresh and done.backup is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elastic.db", "elastic.db.migrate.lock"]


def test_a_ledger_from_a_newer_elastic_is_refused_untouched(where: str):
    old_ledger(where, "79a83a5")
    engine = raw_engine(where)
    with engine.begin() as tx:
        tx.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        tx.execute(text("INSERT INTO alembic_version VALUES ('9999')"))
    with pytest.raises(LedgerVersionError, match="revision 9999, which this elastic does not"):
        Ledger.open(where)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert "reservations" not in tables  # nothing was added
    if "://" not in where:
        assert not list(Path(where).parent.glob("*.bak-*"))


def test_an_opener_waits_for_another_ones_upgrade(where: str):
    """A daemon and ``elastic nodes`` starting on one old ledger: the second waits for the
    first's lock, then finds the work done (no half-made tables seen, no second stamp)."""
    old_ledger(where, "c0ff761")
    engine = raw_engine(where)
    opened: list[Ledger] = []
    with held_upgrade_lock(where, engine):
        opener = threading.Thread(target=lambda: opened.append(Ledger.open(where)))
        opener.start()
        time.sleep(1.0)
        waiting = opener.is_alive()
        tables_meanwhile = set(inspect(engine).get_table_names())
    opener.join(timeout=60)
    try:
        assert waiting and "alembic_version" not in tables_meanwhile
        assert opened and revision(engine) == BASELINE
        with engine.connect() as connection:
            stamps = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
        assert stamps == 1
    finally:
        engine.dispose()


@contextmanager
def held_upgrade_lock(ledger_at: str, engine: Engine) -> Iterator[None]:
    """The lock an upgrader of this ledger takes (the file beside a SQLite ledger, the
    schema's advisory lock on PostgreSQL), held by the test."""
    if "://" not in ledger_at:
        with FileLock(f"{ledger_at}.migrate.lock"):
            yield
        return
    key = "hashtext('elastic-ledger:' || current_schema())"
    with engine.connect() as connection:
        connection.execute(text(f"SELECT pg_advisory_lock({key})"))
        try:
            yield
        finally:
            connection.execute(text(f"SELECT pg_advisory_unlock({key})"))
