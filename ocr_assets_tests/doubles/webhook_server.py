"""A webhook receiver on loopback, in a thread: it records every POST (path and JSON body) and
answers after `delay_s`, so a test sees what an alert channel sent and how a slow receiver is
handled. `closed_port()` gives an address where nothing listens (a receiver that is down)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    body: Any
    headers: dict[str, str]


@dataclass
class WebhookServer:
    url: str
    received: list[Received] = field(default_factory=list)
    delay_s: float = 0.0
    answer: bytes = b'{"ok": true}'
    """What it answers (Slack's API wants `ok`; a webhook ignores it)."""

    def bodies(self) -> list[Any]:
        return [r.body for r in self.received]


@contextmanager
def webhook_server(delay_s: float = 0.0) -> Iterator[WebhookServer]:
    """A receiver on 127.0.0.1 at a free port, stopped when the block ends."""
    state: WebhookServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            state.received.append(Received(self.path, body, dict(self.headers)))
            time.sleep(state.delay_s)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(state.answer)))
                self.end_headers()
                self.wfile.write(state.answer)
            except OSError:
                pass  # the client gave up waiting (the slow receiver's case)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the tests read what was received, not the access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = WebhookServer(f"http://127.0.0.1:{server.server_address[1]}/hook", delay_s=delay_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> str:
    """The URL of a port on 127.0.0.1 where nothing listens: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
