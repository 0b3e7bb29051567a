"""The ledger as elastic 0.1 keeps it: nodes, intents, events, counters, backoffs, marks
and reservations (the schema of ``elastic.migrations.baseline``, frozen).

Revision ID: 0001
Revises: (none: the first)
"""

from __future__ import annotations

from alembic import op

from elastic.migrations.baseline import baseline_metadata

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    baseline_metadata().create_all(op.get_bind())


def downgrade() -> None:
    baseline_metadata().drop_all(op.get_bind())
