"""An EC2 endpoint for the embedded site: moto's server on 127.0.0.1, in this process.

Layer: provider support. ``ec2.endpoint_url: embedded`` lets the default
site.yaml show a real local-then-cloud scale-up through the real boto3 client
with no AWS account. The server keeps its state in memory for the life of the
process, which is why the embedded site is shown with ``elastic demo`` (one
process, many passes) rather than separate cron passes. Dummy credentials are
set in the environment only when none are configured, and only here.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

log = logging.getLogger(__name__)

_lock = threading.Lock()
_server: object | None = None
_url: str | None = None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_embedded_ec2() -> str:
    """Start (once per process) and return the endpoint URL of the embedded EC2."""
    global _server, _url
    with _lock:
        if _url is not None:
            return _url
        from moto.server import ThreadedMotoServer

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "embedded-moto")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "embedded-moto")
        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        _server, _url = server, f"http://127.0.0.1:{port}"
        log.info("embedded EC2 (moto) listening on %s", _url)
        return _url


def stop_embedded_ec2() -> None:
    global _server, _url
    with _lock:
        if _server is not None:
            _server.stop()  # type: ignore[attr-defined]
        _server, _url = None, None
