"""How elastic logs: text for a terminal, or one JSON object a line for a log shipper.

Layer: entry point support (standard library only). ``--log-format json`` writes each
record to stderr as one line a shipper (Fluent Bit, Vector, Promtail, journald's
``SYSLOG`` forwarders) reads without a parser of ours: ``time`` (UTC, ISO 8601 with
``Z``), ``level``, ``logger``, ``message``, and the decision fields (``vo``, ``node``,
``action``, ``reason``) when the record carries them, which the engine and the actuator
pass with ``extra=`` (``decision_fields``), so "every boot of VO atlas" is a query, not a
regular expression. A traceback stays inside its line (``exception``).

Third-party libraries speak at WARNING unless ``-v``; with ``-q`` they are silenced to
ERROR. APScheduler's "skipped: maximum number of running instances reached" and "run
time ... was missed" are elastic's own design (one pass at a time, missed runs
coalesced; docs/architecture.md), not news for the admin, so APScheduler is at ERROR
unless ``-v``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: the fields a decision's log line carries (``extra=``), in the order JSON lists them
DECISION_FIELDS = ("vo", "node", "action", "reason")
#: libraries whose INFO is not elastic's story (their WARNING is, but with -q)
THIRD_PARTY = ("botocore", "boto3", "urllib3", "werkzeug", "alembic", "moto", "filelock")
#: libraries whose warnings are elastic's design, heard only with -v
QUIET_UNLESS_VERBOSE = ("apscheduler",)


def decision_fields(
    vo: str | None = None,
    node: str | None = None,
    action: str | None = None,
    reason: str | None = None,
) -> dict[str, str]:
    """``extra=`` for a decision's log record: only the fields that have a value."""
    given = {"vo": vo, "node": node, "action": action, "reason": reason}
    return {k: v for k, v in given.items() if v}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line: dict[str, Any] = {
            "time": stamp.replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in DECISION_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (a test's capture
    too), and marks the handler elastic installed, so a second call replaces its format."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(verbose: int, quiet: bool, log_format: str = "text") -> None:
    """The root logger on stderr at the level ``-v``/``-q`` ask, in ``log_format``.

    As ``logging.basicConfig``: a root logger that already has another handler (a host
    program's, a test harness's) is left as it is; third-party levels are set either way.
    """
    level = logging.WARNING if quiet else logging.DEBUG if verbose > 1 else logging.INFO
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, StderrHandler)]
    if ours or not root.handlers:
        handler = ours[0] if ours else StderrHandler()
        handler.setFormatter(
            JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
        )
        if not ours:
            root.addHandler(handler)
        root.setLevel(level)
    if verbose < 1:
        third_party = logging.ERROR if quiet else logging.WARNING
        for name in THIRD_PARTY:
            logging.getLogger(name).setLevel(third_party)
        for name in QUIET_UNLESS_VERBOSE:
            logging.getLogger(name).setLevel(logging.ERROR)
