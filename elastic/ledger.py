"""The durable record: nodes, in-flight intents and the event log.

Layer: I/O (SQLAlchemy 2 Core; SQLite by default, any SQLAlchemy URL works,
e.g. PostgreSQL). The ledger keeps what cannot be derived from the providers
and the LRM: which VO a node serves, when it went idle, what elastic meant to
do when it crashed. An intent is written before an action is attempted and
closed after, so a restart finds every half-done boot or destroy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    inspect,
    make_url,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from elastic.model import (
    EXISTING_STATES,
    OPEN_RESERVATION_STATES,
    BootBackoff,
    Intent,
    NodeRecord,
    NodeState,
    ProviderKind,
    Reservation,
    ReservationState,
)
from elastic.planning.reservations import p95_nearest_rank

metadata = MetaData()

nodes_table = Table(
    "nodes",
    metadata,
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
    # first pass the LRM showed a READY node down or absent (None while it is up)
    Column("dark_since", Float),
    # running jobs at the last trusted LRM reading: an ABSENT node that ran jobs is not empty
    Column("last_running", Integer, nullable=False, default=0, server_default="0"),
)

intents_table = Table(
    "intents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("node_id", String(64), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("closed_at", Float),
    Column("outcome", String(16)),  # None while open, then "done" or "failed"
    Column("detail", Text, nullable=False, default=""),
)

events_table = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("node_id", String(64)),
    Column("kind", String(32), nullable=False),
    Column("message", Text, nullable=False),
)

counters_table = Table(
    "counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", Integer, nullable=False),
)

backoffs_table = Table(
    "backoffs",
    metadata,
    # "vo|provider|location": a host, or an EC2 region with its instance type
    Column("target", String(255), primary_key=True),
    Column("vo", String(64), nullable=False),
    Column("provider", String(16), nullable=False),
    Column("location", String(255), nullable=False),
    Column("failures", Integer, nullable=False),
    Column("until", Float, nullable=False),
    Column("last_error", Text, nullable=False, default=""),
    Column("updated_at", Float, nullable=False),
)

marks_table = Table(
    "marks",
    metadata,
    # small site-wide facts that outlive a process: the last LRM reading's figures,
    # when the LRM's nodes vanished, the controller's heartbeat
    Column("name", String(64), primary_key=True),
    Column("value", Float, nullable=False),
)


reservations_table = Table(
    "reservations",
    metadata,
    # "r-<n>" for elastic's own, "<lrm>:<name>" for one read from the LRM
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
    Column("lrm_nodes", Text, nullable=False, default=""),  # comma-separated
)

#: how many of the latest joins per provider the boot-time p95 is taken over
BOOT_HISTORY = 100


def backoff_target(vo: str, provider: ProviderKind, location: str) -> str:
    return f"{vo}|{provider.value}|{location}"


@dataclass(frozen=True)
class Event:
    at: float
    node_id: str | None
    kind: str
    message: str
    #: the row's id: grows with every event, so a reader can ask for what came after it
    id: int = 0


def _add_missing_columns(engine: Engine, schema: MetaData = metadata) -> None:
    """Bring a ledger written by an older elastic up to ``schema``, in place.

    ``create_all`` makes missing tables but never alters existing ones; every column
    added since the first release is nullable or has a server default, so adding it
    keeps every row. Since migrations exist (``elastic.migrate``) this brings a ledger from
    before them to the baseline schema, once, before it is stamped. Names are
    quoted by the dialect, so a column named after an SQL keyword works on every database.
    Two processes may open one old ledger at once (a daemon starting, ``elastic nodes``):
    a column the other one added meanwhile is not an error.
    """
    inspector = inspect(engine)
    quote = engine.dialect.identifier_preparer
    for table in schema.sorted_tables:
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            server_default = getattr(column.server_default, "arg", None)
            default = f" DEFAULT {server_default}" if server_default is not None else ""
            if server_default is not None and not column.nullable:  # the default fills old rows
                default += " NOT NULL"
            # names and types come from this module's own metadata, never from input
            statement = (
                f"ALTER TABLE {quote.format_table(table)}"
                f" ADD COLUMN {quote.format_column(column)} {kind}{default}"
            )
            try:
                with engine.begin() as tx:
                    tx.execute(text(statement))
            except DBAPIError:
                now_have = {c["name"] for c in inspect(engine).get_columns(table.name)}
                if column.name not in now_have:
                    raise


def _record(row: Any) -> NodeRecord:
    values = dict(row._mapping)
    values["provider"] = ProviderKind(values["provider"])
    values["state"] = NodeState(values["state"])
    return NodeRecord(**values)


def _reservation(row: Any) -> Reservation:
    values = dict(row._mapping)
    values["state"] = ReservationState(values["state"])
    values["burst"] = bool(values["burst"])
    values["lrm_nodes"] = tuple(n for n in values["lrm_nodes"].split(",") if n)
    return Reservation(**values)


def database_url(where: str | Path) -> URL:
    """The SQLAlchemy URL of a ledger: a file path becomes a SQLite URL (its folder made),
    and PostgreSQL without a driver (``postgresql://``, ``postgres://``) gets psycopg 3,
    the driver elastic installs; SQLAlchemy would otherwise look for psycopg2, and it does
    not know ``postgres://`` at all. A URL is kept as a URL object, so its password is
    never rendered into a string on the way."""
    text_form = str(where)
    if "://" not in text_form:
        Path(text_form).parent.mkdir(parents=True, exist_ok=True)
        return make_url(f"sqlite:///{text_form}")
    url = make_url(text_form)
    if url.drivername in {"postgresql", "postgres"}:
        url = url.set(drivername="postgresql+psycopg")
    return url


class Ledger:
    """Nodes, intents and events in one database; every write is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, where: str | Path) -> Ledger:
        """Open (creating if needed) a ledger at a file path or an SQLAlchemy URL.

        A server's connections can be cut while the daemon sleeps between passes (server
        restart, idle timeout): ``pool_pre_ping`` checks one before use instead of failing
        the next pass on a dead socket. SQLite files need no such check.

        An older ledger is upgraded here, at start, after a backup copy of a SQLite file
        (``elastic.migrate.upgrade_ledger`` says why automatic and not refused); one a
        newer elastic wrote is refused (``LedgerVersionError``, one line, exit 2).
        """
        url = database_url(where)
        options: dict[str, Any] = {}
        if url.get_backend_name() != "sqlite":
            options["pool_pre_ping"] = True
        engine = create_engine(url, **options)
        from elastic.migrate import upgrade_ledger  # it imports this module's schema

        upgrade_ledger(engine)
        return cls(engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self._engine.begin() as connection:
            yield connection

    def nodes(self, *, include_gone: bool = False) -> list[NodeRecord]:
        query = select(nodes_table).order_by(nodes_table.c.created_at, nodes_table.c.id)
        if not include_gone:
            query = query.where(nodes_table.c.state.in_([s.value for s in EXISTING_STATES]))
        with self._tx() as tx:
            return [_record(row) for row in tx.execute(query)]

    def get(self, node_id: str) -> NodeRecord | None:
        with self._tx() as tx:
            row = tx.execute(select(nodes_table).where(nodes_table.c.id == node_id)).first()
        return _record(row) if row is not None else None

    def add(self, record: NodeRecord, message: str) -> None:
        """Record a new node. A name that was used before and is gone may come back
        (Slurm reuses its CLOUD node names); its old row's history stays in events."""
        values = dataclasses.asdict(record)
        values["provider"] = record.provider.value
        values["state"] = record.state.value
        with self._tx() as tx:
            gone = (nodes_table.c.id == record.id) & (nodes_table.c.state == NodeState.GONE.value)
            tx.execute(nodes_table.delete().where(gone))
            tx.execute(insert(nodes_table).values(**values))
            self._event(tx, record.created_at, record.id, "node", message)

    def update(self, node_id: str, now: float, **fields: Any) -> None:
        """Change fields of a node; a state change also moves ``state_since``."""
        if not fields:
            return
        values = {
            k: (v.value if isinstance(v, NodeState | ProviderKind) else v)
            for k, v in fields.items()
        }
        if "state" in values:
            values["state_since"] = now
        with self._tx() as tx:
            tx.execute(update(nodes_table).where(nodes_table.c.id == node_id).values(**values))

    def set_state(self, node_id: str, state: NodeState, now: float, reason: str) -> None:
        with self._tx() as tx:
            tx.execute(
                update(nodes_table)
                .where(nodes_table.c.id == node_id)
                .values(state=state.value, state_since=now, reason=reason)
            )
            self._event(tx, now, node_id, state.value, reason)

    def reserve_serials(self, count: int) -> int:
        """The first of ``count`` fresh node serials; never handed out twice."""
        with self._tx() as tx:
            row = tx.execute(
                select(counters_table.c.value).where(counters_table.c.name == "serial")
            ).first()
            first = (row[0] if row else 0) + 1
            if row is None:
                tx.execute(insert(counters_table).values(name="serial", value=first + count - 1))
            else:
                tx.execute(
                    update(counters_table)
                    .where(counters_table.c.name == "serial")
                    .values(value=first + count - 1)
                )
        return first

    def peek_serial(self) -> int:
        with self._tx() as tx:
            row = tx.execute(
                select(counters_table.c.value).where(counters_table.c.name == "serial")
            ).first()
        return (row[0] if row else 0) + 1

    def open_intent(self, node_id: str, kind: str, now: float, detail: str = "") -> int:
        with self._tx() as tx:
            result = tx.execute(
                insert(intents_table).values(
                    node_id=node_id, kind=kind, opened_at=now, detail=detail
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def close_intent(self, intent_id: int, now: float, *, ok: bool, detail: str = "") -> None:
        values: dict[str, Any] = {"closed_at": now, "outcome": "done" if ok else "failed"}
        if detail:
            values["detail"] = detail
        with self._tx() as tx:
            tx.execute(
                update(intents_table).where(intents_table.c.id == intent_id).values(**values)
            )

    def open_intents(self) -> list[Intent]:
        with self._tx() as tx:
            rows = tx.execute(select(intents_table).where(intents_table.c.closed_at.is_(None)))
            return [Intent(**dict(row._mapping)) for row in rows]

    def backoffs(self) -> list[BootBackoff]:
        with self._tx() as tx:
            rows = list(tx.execute(select(backoffs_table).order_by(backoffs_table.c.target)))
        return [
            BootBackoff(
                r.vo, ProviderKind(r.provider), r.location, r.failures, r.until, r.last_error
            )
            for r in rows
        ]

    def put_backoff(self, backoff: BootBackoff, now: float) -> None:
        values = {
            "vo": backoff.vo,
            "provider": backoff.provider.value,
            "location": backoff.location,
            "failures": backoff.failures,
            "until": backoff.until,
            "last_error": backoff.last_error,
            "updated_at": now,
        }
        with self._tx() as tx:
            target = backoff_target(backoff.vo, backoff.provider, backoff.location)
            where = backoffs_table.c.target == target
            if tx.execute(select(backoffs_table.c.target).where(where)).first() is None:
                tx.execute(insert(backoffs_table).values(target=target, **values))
            else:
                tx.execute(update(backoffs_table).where(where).values(**values))

    def clear_backoff(self, vo: str, provider: ProviderKind, location: str) -> None:
        with self._tx() as tx:
            target = backoff_target(vo, provider, location)
            tx.execute(delete(backoffs_table).where(backoffs_table.c.target == target))

    # -- reservations -------------------------------------------------------------------

    def reservations(self, *, open_only: bool = True) -> list[Reservation]:
        query = select(reservations_table).order_by(
            reservations_table.c.start, reservations_table.c.id
        )
        if open_only:
            states = [s.value for s in OPEN_RESERVATION_STATES]
            query = query.where(reservations_table.c.state.in_(states))
        with self._tx() as tx:
            return [_reservation(row) for row in tx.execute(query)]

    def reservation(self, reservation_id: str) -> Reservation | None:
        where = reservations_table.c.id == reservation_id
        with self._tx() as tx:
            row = tx.execute(select(reservations_table).where(where)).first()
        return _reservation(row) if row is not None else None

    def put_reservation(self, reservation: Reservation, now: float, message: str) -> None:
        """Write a reservation (new or changed) and its event, in one transaction."""
        values = dataclasses.asdict(reservation)
        values["state"] = reservation.state.value
        values["burst"] = int(reservation.burst)
        values["lrm_nodes"] = ",".join(reservation.lrm_nodes)
        where = reservations_table.c.id == reservation.id
        with self._tx() as tx:
            if tx.execute(select(reservations_table.c.id).where(where)).first() is None:
                tx.execute(insert(reservations_table).values(**values))
            else:
                tx.execute(update(reservations_table).where(where).values(**values))
            self._event(tx, now, reservation.id, "reservation", message)

    def next_reservation_id(self) -> str:
        """A fresh "r-<n>" id; n never repeats on this ledger."""
        with self._tx() as tx:
            name = "reservation_serial"
            where = counters_table.c.name == name
            row = tx.execute(select(counters_table.c.value).where(where)).first()
            serial = (int(row[0]) if row is not None else 0) + 1
            if row is None:
                tx.execute(insert(counters_table).values(name=name, value=serial))
            else:
                tx.execute(update(counters_table).where(where).values(value=serial))
        return f"r-{serial}"

    def boot_p95_s(self) -> dict[ProviderKind, float]:
        """Per provider, the p95 of boot-to-ready seconds over its latest joins: from a
        node's request to the pass that found it in the LRM. Providers with no join yet
        have no entry (the configured estimate stands in)."""
        joined = (
            select(nodes_table.c.provider, (events_table.c.at - nodes_table.c.created_at))
            .join(events_table, events_table.c.node_id == nodes_table.c.id)
            .where(events_table.c.kind == "reconcile", events_table.c.message == "joined the LRM")
            .where(events_table.c.at >= nodes_table.c.created_at)
            .order_by(events_table.c.id.desc())
        )
        durations: dict[ProviderKind, list[float]] = {}
        with self._tx() as tx:
            for provider, seconds in tx.execute(joined):
                kept = durations.setdefault(ProviderKind(provider), [])
                if len(kept) < BOOT_HISTORY:
                    kept.append(float(seconds))
        return {kind: p95_nearest_rank(values) for kind, values in durations.items() if values}

    def mark(self, name: str) -> float | None:
        with self._tx() as tx:
            row = tx.execute(select(marks_table.c.value).where(marks_table.c.name == name)).first()
        return float(row[0]) if row is not None else None

    def set_marks(self, values: Mapping[str, float | None]) -> None:
        """Set (or forget) several figures in one transaction."""
        with self._tx() as tx:
            tx.execute(delete(marks_table).where(marks_table.c.name.in_(list(values))))
            kept = [{"name": k, "value": v} for k, v in values.items() if v is not None]
            if kept:
                tx.execute(insert(marks_table), kept)

    def set_mark(self, name: str, value: float | None) -> None:
        """Set (or, with None, forget) one site-wide figure."""
        with self._tx() as tx:
            where = marks_table.c.name == name
            tx.execute(delete(marks_table).where(where))
            if value is not None:
                tx.execute(insert(marks_table).values(name=name, value=value))

    def event(self, now: float, kind: str, message: str, node_id: str | None = None) -> None:
        with self._tx() as tx:
            self._event(tx, now, node_id, kind, message)

    @staticmethod
    def _event(tx: Connection, now: float, node_id: str | None, kind: str, message: str) -> None:
        tx.execute(insert(events_table).values(at=now, node_id=node_id, kind=kind, message=message))

    def events_by_node(self, node_ids: Collection[str]) -> dict[str, list[Event]]:
        """Every event of these nodes, oldest first, by node: one query per 500 nodes, not
        one per node (``elastic nodes --all`` on a site that ran for years)."""
        wanted = sorted(set(node_ids))
        found: dict[str, list[Event]] = {n: [] for n in wanted}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            query = (
                select(events_table)
                .where(events_table.c.node_id.in_(chunk))
                .order_by(events_table.c.id.asc())
            )
            with self._tx() as tx:
                for row in tx.execute(query):
                    found[row.node_id].append(
                        Event(row.at, row.node_id, row.kind, row.message, row.id)
                    )
        return found

    def events(
        self,
        limit: int = 50,
        node_id: str | None = None,
        *,
        vo: str | None = None,
        since: float | None = None,
        after_id: int | None = None,
    ) -> list[Event]:
        """Events, oldest first: the newest ``limit`` of those that match, or with
        ``after_id`` the first ``limit`` written after that event (for a follower).
        ``vo``: events of nodes the nodes table gives that VO (site-wide events have no
        node, so none of them); ``since``: at or after that epoch time."""
        where: list[ColumnElement[bool]] = []
        if node_id is not None:
            where.append(events_table.c.node_id == node_id)
        if vo is not None:
            of_vo = select(nodes_table.c.id).where(nodes_table.c.vo == vo)
            where.append(events_table.c.node_id.in_(of_vo))
        if since is not None:
            where.append(events_table.c.at >= since)
        newest_first = after_id is None
        if after_id is not None:
            where.append(events_table.c.id > after_id)
        order = events_table.c.id.desc() if newest_first else events_table.c.id.asc()
        query = select(events_table).where(*where).order_by(order).limit(limit)
        with self._tx() as tx:
            rows = list(tx.execute(query))
        if newest_first:
            rows.reverse()
        return [Event(row.at, row.node_id, row.kind, row.message, row.id) for row in rows]
