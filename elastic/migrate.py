"""Bring a ledger's schema forward to the one this elastic writes (Alembic migrations).

Layer: I/O (the ledger's database, and for a SQLite file its backup copy beside it). The
migrations live in ``elastic/migrations`` and are found with ``importlib.resources``: no
alembic.ini, so an installed wheel migrates as a checkout does. ``Ledger.open`` calls
``upgrade_ledger`` at every start and ``elastic upgrade`` calls it by hand; both do the
same thing and say what they did. Three kinds of ledger are recognised: a new one (no
tables: the migrations create them), one at an older revision (the missing migrations
run), and one from before migrations existed (tables and no ``alembic_version``: brought
to the baseline in place with ``_add_missing_columns``, which is what elastic always did,
then stamped ``0001``). A ledger at a revision this elastic does not know was written by a
newer elastic and is refused untouched.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import Connection, Engine, MetaData, create_engine, inspect, text, update

from elastic.ledger import _add_missing_columns, database_url, metadata
from elastic.migrations.baseline import baseline_metadata

log = logging.getLogger(__name__)

#: the first migration: today's schema when migrations began
BASELINE = "0001"
#: how long an opener waits for another process's upgrade of the same ledger
LOCK_WAIT_S = 120.0


class LedgerVersionError(SystemExit):
    """The ledger is at a revision this elastic does not know: a newer elastic wrote it
    (a package downgraded, two versions on one ledger). Nothing is changed. A SystemExit
    with its message, so the command line prints the one line and exits 2: it is the
    admin's to fix (install the newer elastic, or restore a backup), not a bug."""


@dataclass(frozen=True)
class LedgerUpgrade:
    """What ``upgrade_ledger`` found and did, for the log and ``elastic upgrade``."""

    where: str  # the ledger's URL, password masked
    before: str | None  # the revision found (None: no alembic_version)
    after: str
    fresh: bool  # no ledger tables at all: the migrations made them
    pre_migration: bool  # tables and no revision: brought to the baseline, stamped
    applied: tuple[str, ...] = ()  # "<revision>: <first line of its docstring>"
    backup: Path | None = None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def lines(self) -> list[str]:
        if not self.changed:
            return [f"ledger {self.where}: at revision {self.after} (current); nothing to do"]
        if self.fresh:
            return [f"ledger {self.where}: new, created at revision {self.after}"]
        lines = []
        if self.backup is not None:
            lines.append(f"backup copy: {self.backup}")
        if self.pre_migration:
            lines.append(
                f"ledger {self.where}: from before migrations; missing tables and columns "
                f"added in place, rows kept; stamped {BASELINE}"
            )
        lines += [f"applied {step}" for step in self.applied]
        was = self.before or "none"
        lines.append(f"ledger {self.where}: upgraded from revision {was} to {self.after}")
        return lines


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory(str(files("elastic") / "migrations"))


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None, "elastic/migrations/versions has no migration"
    return head


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("elastic") / "migrations"))
    config.attributes["connection"] = connection
    return config


def _read(engine: Engine) -> tuple[str | None, bool]:
    """The ledger's revision (None without one) and whether it has any ledger table."""
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        tables = set(inspect(connection).get_table_names()) & set(metadata.tables)
    return revision, bool(tables)


def upgrade_ledger(
    engine: Engine, *, now: datetime | None = None, announce: bool = True
) -> LedgerUpgrade:
    """Bring the ledger to the newest revision, or find it there (the usual case: one
    query). Automatic at every start, by design: a cron pass after ``pip install -U``
    must go on managing the site (a refused pass leaves cloud VMs billing and jobs
    waiting), and elastic has always brought older ledgers forward in place. A SQLite
    file is copied first (``<file>.bak-<UTC time>``); on PostgreSQL the migrations run in
    one transaction, so a failed one leaves the ledger as it was. Two processes starting
    on one old ledger take turns (a lock file beside a SQLite file, an advisory lock on
    PostgreSQL), and the second finds the work done. ``announce``: log what was done
    (``elastic upgrade`` prints it instead)."""
    where = engine.url.render_as_string(hide_password=True)
    head = head_revision()
    before, has_tables = _read(engine)
    if before == head:
        return LedgerUpgrade(where, before, head, fresh=False, pre_migration=False)
    known = {script.revision for script in _scripts().walk_revisions()}
    if before is not None and before not in known:
        raise LedgerVersionError(
            f"ledger {where} is at revision {before}, which this elastic does not know "
            f"(its newest is {head}): a newer elastic wrote it; install that version again "
            "or restore the ledger's backup copy"
        )
    with _exclusive(engine):
        before, has_tables = _read(engine)  # another process may have done it meanwhile
        if before == head:
            return LedgerUpgrade(where, before, head, fresh=False, pre_migration=False)
        backup = _backup(engine, now or datetime.now(UTC)) if has_tables else None
        pre_migration = before is None and has_tables
        if pre_migration:
            baseline = baseline_metadata()
            baseline.create_all(engine)
            _add_missing_columns(engine, baseline)
            _require_values(engine, baseline)
            with engine.begin() as connection:
                command.stamp(_config(connection), BASELINE)
        start = BASELINE if pre_migration else before
        applied = tuple(_steps(start, head))
        with engine.begin() as connection:
            command.upgrade(_config(connection), "head")
    done = LedgerUpgrade(where, before, head, not has_tables, pre_migration, applied, backup)
    if announce and has_tables:  # cron runs with -q: the admin must still see the copy
        for line in done.lines():
            log.warning("%s", line)
    return done


def _require_values(engine: Engine, baseline: MetaData) -> None:
    """Make NOT NULL what the baseline has NOT NULL: an elastic before migrations added
    ``last_running`` to older ledgers as a nullable column (with its default), so such a
    ledger would differ from the baseline it is stamped with. A NULL becomes the column's
    default first; SQLite changes the column by copying the table (Alembic's batch mode)."""
    found = inspect(engine)
    for table in baseline.sorted_tables:
        loose = {c["name"] for c in found.get_columns(table.name) if c["nullable"]}
        for column in table.columns:
            default = getattr(column.server_default, "arg", None)
            if column.name not in loose or column.nullable or column.primary_key:
                continue
            if default is None:  # no value to give the old rows: left as it is
                continue
            with engine.begin() as connection:
                connection.execute(
                    update(table).where(column.is_(None)).values({column.name: text(default)})
                )
                operations = Operations(MigrationContext.configure(connection))
                with operations.batch_alter_table(table.name) as batch:
                    batch.alter_column(
                        column.name,
                        existing_type=column.type,
                        existing_server_default=default,
                        nullable=False,
                    )


def upgrade_at(where: str | Path) -> LedgerUpgrade:
    """Upgrade the ledger at a path or URL (``site.state``) and say what was done."""
    engine = create_engine(database_url(where))
    try:
        return upgrade_ledger(engine, announce=False)
    finally:
        engine.dispose()


def _steps(start: str | None, head: str) -> Iterator[str]:
    """The migrations after ``start`` up to ``head``, oldest first, as one line each."""
    scripts = list(_scripts().iterate_revisions(head, start or "base"))
    for script in reversed(scripts):
        if script.revision == start:
            continue
        doc = (script.doc or "").strip().splitlines()
        yield f"{script.revision}: {doc[0] if doc else '(no description)'}"


def sqlite_file(engine: Engine) -> Path | None:
    """The ledger's file, for a SQLite ledger kept in one (not in memory)."""
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a SQLite URI filename: no plain path to copy or lock
        return None
    return Path(database)


def _backup(engine: Engine, now: datetime) -> Path | None:
    """A consistent copy of a SQLite ledger (SQLite's online backup, so a writer at the
    same time cannot tear it), named after the UTC time; never over an older copy."""
    path = sqlite_file(engine)
    if path is None:
        return None
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    copy = path.with_name(f"{path.name}.bak-{stamp}")
    serial = 1
    while copy.exists():
        copy = path.with_name(f"{path.name}.bak-{stamp}.{serial}")
        serial += 1
    source = sqlite3.connect(path)
    target = sqlite3.connect(copy)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()
    return copy


@contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    """One upgrader at a time per ledger: a lock file beside a SQLite file, a session
    advisory lock (keyed by the schema) on PostgreSQL; nothing for a ledger in memory."""
    path = sqlite_file(engine)
    if path is not None:
        with FileLock(f"{path}.migrate.lock", timeout=LOCK_WAIT_S):
            yield
        return
    if engine.dialect.name != "postgresql":
        yield
        return
    key = text("SELECT hashtext('elastic-ledger:' || current_schema())")
    with engine.connect() as connection:
        lock_key = connection.execute(key).scalar_one()
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": lock_key})
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": lock_key})
            connection.commit()
