"""A loopback stand-in for Sentry's ingest endpoint: sentry-sdk posts envelopes to
`POST /api/<project>/envelope/` of the DSN's host; this keeps each one (decompressed) and answers 200."""

from __future__ import annotations

import gzip
import json
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.fakes import LoopbackServer

PUBLIC_KEY = "0123456789abcdef0123456789abcdef"
PROJECT = "42"


@dataclass
class FakeSentry(LoopbackServer):
    envelopes: list[bytes] = field(default_factory=list)

    def __post_init__(self):
        self._arrived = threading.Condition()
        self._listen("POST")

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.server.server_port}/{PROJECT}"

    def _handle(self, http: BaseHTTPRequestHandler) -> None:
        body = http.rfile.read(int(http.headers.get("Content-Length") or 0))
        encoding = (http.headers.get("Content-Encoding") or "").lower()
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if http.path.rstrip("/") == f"/api/{PROJECT}/envelope":
            with self._arrived:
                self.envelopes.append(body)
                self._arrived.notify_all()
        http.send_response(200)
        http.send_header("Content-Type", "application/json")
        http.end_headers()
        http.wfile.write(b"{}")

    def events(self) -> list[dict]:
        """The error events received (an envelope is a header line, then item header and payload lines)."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def wait_for_events(self, count: int = 1, timeout: float = 10.0) -> list[dict]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.events()) >= count, timeout)
        return self.events()
