"""Alembic's environment for the ledger: runs the migrations on the connection that
``elastic.migrate`` hands over in ``config.attributes["connection"]``.

Layer: I/O (run by Alembic inside ``elastic.migrate``, never imported otherwise). There is
no offline (SQL script) mode and no engine made here: a ledger is migrated where it is,
with the connection elastic opened, so the URL (and its password) never passes through
Alembic's configuration. SQLite alters tables in batch mode (copy and rename), which is
how Alembic changes a column SQLite's ALTER TABLE cannot.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from elastic.ledger import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the ledger's migrations run through elastic.migrate (elastic upgrade)")
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
