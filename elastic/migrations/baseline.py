"""The ledger's schema as the first migration made it, frozen: never edit it.

Layer: I/O schema data (SQLAlchemy Core tables only). Migration ``0001`` creates these
tables, and a ledger from before migrations existed is brought to exactly this schema
(missing tables made, missing columns added in place) before it is stamped ``0001``.
Both must stay what they were when ``0001`` shipped, whatever ``elastic.ledger``
becomes: a later change to the ledger is a later migration, and a test compares the
migrated schema with ``elastic.ledger.metadata``, so a change without one fails.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text


def baseline_metadata() -> MetaData:
    """A fresh MetaData of the ``0001`` tables (fresh: callers may bind or reflect it)."""
    meta = MetaData()
    Table(
        "nodes",
        meta,
        Column("id", String(64), primary_key=True),
        Column("vo", String(64), nullable=False),
        Column("provider", String(16), nullable=False),
        Column("location", String(255), nullable=False),
        Column("instance_id", String(255), nullable=False, default=""),
        Column("instance_type", String(64), nullable=False, default=""),
        Column("state", String(16), nullable=False),
        Column("cores", Integer, nullable=False),
        Column("memory_mb", Integer, nullable=False),
        Column("hourly_cost", Float, nullable=False, default=0.0),
        Column("created_at", Float, nullable=False),
        Column("state_since", Float, nullable=False),
        Column("boot_deadline", Float),
        Column("idle_since", Float),
        Column("reason", Text, nullable=False, default=""),
        Column("dark_since", Float),
        Column("last_running", Integer, nullable=False, default=0, server_default="0"),
    )
    Table(
        "intents",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("node_id", String(64), nullable=False, index=True),
        Column("kind", String(16), nullable=False),
        Column("opened_at", Float, nullable=False),
        Column("closed_at", Float),
        Column("outcome", String(16)),
        Column("detail", Text, nullable=False, default=""),
    )
    Table(
        "events",
        meta,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", Float, nullable=False),
        Column("node_id", String(64)),
        Column("kind", String(32), nullable=False),
        Column("message", Text, nullable=False),
    )
    Table(
        "counters",
        meta,
        Column("name", String(32), primary_key=True),
        Column("value", Integer, nullable=False),
    )
    Table(
        "backoffs",
        meta,
        Column("target", String(255), primary_key=True),
        Column("vo", String(64), nullable=False),
        Column("provider", String(16), nullable=False),
        Column("location", String(255), nullable=False),
        Column("failures", Integer, nullable=False),
        Column("until", Float, nullable=False),
        Column("last_error", Text, nullable=False, default=""),
        Column("updated_at", Float, nullable=False),
    )
    Table(
        "marks",
        meta,
        Column("name", String(64), primary_key=True),
        Column("value", Float, nullable=False),
    )
    Table(
        "reservations",
        meta,
        Column("id", String(128), primary_key=True),
        Column("vo", String(64), nullable=False),
        Column("nodes", Integer, nullable=False),
        Column("start", Float, nullable=False),
        Column("end", Float, nullable=False),
        Column("source", String(16), nullable=False),
        Column("name", String(255), nullable=False, default=""),
        Column("burst", Integer, nullable=False, default=1),
        Column("state", String(16), nullable=False),
        Column("reason", Text, nullable=False, default=""),
        Column("created_at", Float, nullable=False),
        Column("ready_at_start", Integer),
        Column("late_s", Float),
        Column("lrm_nodes", Text, nullable=False, default=""),
    )
    return meta
