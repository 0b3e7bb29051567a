"""What the dead-man switch tests run the real agent against: an IMDSv2 stand-in on
127.0.0.1 (there is no real IMDS here) and recorder commands in place of shutdown, the
LRM's drain and its busy check."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
AGENT = REPO / "elastic" / "templates" / "agent" / "elastic-deadman.py"
#: the agent runs with the image's python3, not the project's venv: stdlib only
PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
TOKEN = "stand-in-token-123"
HEARTBEAT = "/latest/meta-data/tags/instance/elastic:heartbeat"
SPOT = "/latest/meta-data/spot/instance-action"
REBALANCE = "/latest/meta-data/events/recommendations/rebalance"

RECORDER = """\
import json, sys
log, codes = sys.argv[1], [int(c) for c in sys.argv[2].split(",")]
try:
    calls = sum(1 for _ in open(log))
except FileNotFoundError:
    calls = 0
with open(log, "a") as f:
    f.write(json.dumps(sys.argv[3:]) + "\\n")
sys.exit(codes[min(calls, len(codes) - 1)])
"""


@dataclass
class Imds:
    """Serves ``values`` (path -> body; absent: 404) to requests carrying the token."""

    values: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, token
    url: str = ""


def _handler(imds: Imds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            imds.requests.append(("PUT", self.path, False))
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if self.path != "/latest/api/token" or not ttl:
                self._answer(400)
            else:
                self._answer(200, TOKEN)

        def do_GET(self) -> None:
            token = self.headers.get("X-aws-ec2-metadata-token") == TOKEN
            imds.requests.append(("GET", self.path, token))
            if not token:
                self._answer(401)  # IMDSv2 only, as the instances are launched
            elif self.path in imds.values:
                self._answer(200, imds.values[self.path])
            else:
                self._answer(404)

    return Handler


@contextmanager
def imds_standin() -> Iterator[Imds]:
    imds = Imds()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(imds))
    imds.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield imds
    finally:
        server.shutdown()
        server.server_close()


def recorder(root: Path, name: str, codes: str, *argv: str) -> list[str]:
    """An argv that records its arguments in root/<name>.log and exits with ``codes``
    (comma-separated: the n-th call exits with the n-th, the last one repeats); ``root`` is
    a Node's, where its recorder.py is."""
    return [PYTHON, str(root / "recorder.py"), str(root / f"{name}.log"), codes, *argv]


class Node:
    """One cloud worker's agent: config, state file and recorded commands in ``root``."""

    def __init__(self, root: Path, imds_url: str, **config: Any) -> None:
        self.root = root
        (root / "recorder.py").write_text(RECORDER)
        self.config: dict[str, Any] = {
            "hostname": "t-atlas-00001",
            "lrm": "sge",
            "imds_url": imds_url,
            "imds_timeout_s": 2,
            "state_file": str(root / "state" / "deadman.json"),
            "uptime_file": None,
            "self_retire_idle_s": 1800,
            "heartbeat_timeout_s": 900,
            "max_lifetime_s": None,
            "busy_command": self.recorder("busy", "1"),
            "busy_if": "exit0",
            "drain_command": self.recorder(
                "drain", "0", "qmod", "-d", "*@t-atlas-00001", "{reason}"
            ),
            "poweroff_command": self.recorder("poweroff", "0", "shutdown", "-h", "now"),
            "settle_s": 0,
            "env": {},
        }
        self.config.update(config)

    def recorder(self, name: str, codes: str, *argv: str) -> list[str]:
        return recorder(self.root, name, codes, *argv)

    def calls(self, name: str) -> list[list[str]]:
        path = self.root / f"{name}.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def set_state(self, **ages_s: float) -> None:
        """State as if the agent first ran ``first_seen`` s ago, last saw a job ``last_busy``
        s ago (and, optionally, last read a heartbeat ``last_heartbeat`` s ago)."""
        now = time.time()
        state: dict[str, Any] = {"drained": None}
        state.update({key: now - age for key, age in ages_s.items()})
        path = Path(self.config["state_file"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(state))

    def state(self) -> dict[str, Any]:
        return dict(json.loads(Path(self.config["state_file"]).read_text()))

    def run(self) -> subprocess.CompletedProcess[str]:
        path = self.root / "deadman-config.json"
        path.write_text(json.dumps(self.config))
        return subprocess.run(
            [PYTHON, str(AGENT), "--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
