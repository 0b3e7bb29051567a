"""The JSON log line (issue 13: "logs a shipper can read"): one object a line, UTC time
with Z, the decision fields only when the record carries them, a traceback kept inside."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from elastic.logging_setup import JsonFormatter, decision_fields


def record(msg: str, *args: object, exc_info=None, **extra: str) -> logging.LogRecord:
    made = logging.getLogger("elastic.decisions").makeRecord(
        "elastic.decisions", logging.INFO, __file__, 1, msg, args, exc_info, extra=extra
    )
    made.created = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC).timestamp()
    return made


def test_a_decision_line_carries_its_fields():
    fields = decision_fields("atlas", "demo-atlas-00001", "boot", "pending jobs")
    line = JsonFormatter().format(record("plan %s %s", "boot", "demo-atlas-00001", **fields))
    assert json.loads(line) == {
        "time": "2026-01-02T03:04:05.678Z",
        "level": "INFO",
        "logger": "elastic.decisions",
        "message": "plan boot demo-atlas-00001",
        "vo": "atlas",
        "node": "demo-atlas-00001",
        "action": "boot",
        "reason": "pending jobs",
    }


def test_fields_without_a_value_are_left_out():
    assert decision_fields("cms") == {"vo": "cms"}
    assert set(json.loads(JsonFormatter().format(record("x", **decision_fields("cms"))))) == {
        "time",
        "level",
        "logger",
        "message",
        "vo",
    }


def test_a_traceback_and_a_multiline_message_stay_on_one_line():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        info = sys.exc_info()
    line = JsonFormatter().format(record("two\nlines", exc_info=info))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "two\nlines"
    assert "RuntimeError: boom" in parsed["exception"]
