"""One module per ledger migration, oldest first by ``down_revision`` (Alembic skips this file)."""
