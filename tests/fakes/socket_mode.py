"""A loopback Socket Mode endpoint speaking Slack's envelope protocol, and a fake Web API that hands it out.

Slack's side of Socket Mode: `apps.connections.open` (called with the app-level token) answers a WebSocket
URL; on connect Slack sends `hello`, then one JSON envelope per request, `{"envelope_id", "type":
"slash_commands" | "interactive" | "events_api", "payload", "accepts_response_payload", and for events
"retry_attempt", "retry_reason"}`; the app acks each with `{"envelope_id"[, "payload"]}` within 3 s.
The WebSocket itself is the `websockets` package's sync server.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field

from slack_bolt.adapter.socket_mode import SocketModeHandler
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.fakes.slack_api import FakeSlack

APP_TOKEN = "xapp-1-test-not-a-real-token"
APP_ID = "A0PAPERS"


class FakeSocketMode:
    """The WebSocket endpoint: one client at a time; `send` pushes an envelope, `acks` collects the replies."""

    def __init__(self):
        self._lock = threading.Lock()
        self._connected = threading.Condition(self._lock)
        self._connection: ServerConnection | None = None
        self.acks: dict[str, dict] = {}
        self.hellos = 0
        self.server = serve(self._serve_client, "127.0.0.1", 0, compression=None)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.socket.getsockname()[:2]
        return f"ws://{host}:{port}/link/?ticket=fake-ticket&app_id={APP_ID}"

    def start(self) -> FakeSocketMode:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def _serve_client(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "debug_info": {"host": "fake-socket-mode", "approximate_connection_time": 18060},
                                    "connection_info": {"app_id": APP_ID}}))
        with self._connected:
            self._connection = connection
            self.hellos += 1
            self._connected.notify_all()
        try:
            for raw in connection:
                message = json.loads(raw)
                with self._lock:
                    if "envelope_id" in message:
                        self.acks[message["envelope_id"]] = message
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if self._connection is connection:
                    self._connection = None

    def wait_connected(self, timeout: float = 10.0) -> bool:
        with self._connected:
            return self._connected.wait_for(lambda: self._connection is not None, timeout)

    def send(self, kind: str, payload: dict, *, retry_attempt: int | None = None) -> str:
        """Deliver one envelope as Slack does; returns its envelope_id."""
        envelope_id = str(uuid.uuid4())
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api"}
        if retry_attempt is not None:
            envelope.update(retry_attempt=retry_attempt, retry_reason="" if retry_attempt == 0 else "timeout")
        with self._lock:
            connection = self._connection
        assert connection is not None, "no Socket Mode client is connected"
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 3.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if envelope_id in self.acks:
                    return self.acks[envelope_id]
            time.sleep(0.01)
        return None


@dataclass
class FakeSlackWithSocketMode(FakeSlack):
    """The fake Web API, plus `apps.connections.open`, which answers the fake endpoint's URL for the app token."""

    socket_mode: FakeSocketMode = field(default_factory=FakeSocketMode)

    def start(self):
        self.socket_mode.start()
        return super().start()

    def stop(self) -> None:
        self.socket_mode.stop()
        super().stop()

    def _answer(self, method: str, args: dict, token: str | None) -> tuple[int, dict, dict]:
        if method == "apps.connections.open":
            if token != APP_TOKEN:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": self.socket_mode.url}, {}
        return super()._answer(method, args, token)


def close_handler(handler: SocketModeHandler, timeout: float = 10.0) -> bool:
    """Close a Socket Mode handler and its threads; False if they still run after `timeout` seconds.

    slack_sdk's `close()` marks the session terminated, closes the socket, then joins its receiving thread with no
    timeout. That thread, on entering a session while the socket is still there, marks the session running again;
    if that lands between close()'s first two steps (the closing thread held up 0.1 s, by a garbage collection
    say), the thread loops forever on the closed session and close() waits forever: a CI run once stalled 17
    minutes on it. So close() runs in a thread of its own, and while it waits the session is marked terminated
    again, which ends that loop (the socket is gone by then, so nothing marks it running). The app itself never
    closes its handler: `serve` holds the connection until the process ends."""
    closing = threading.Thread(target=handler.close, name="socket-mode-close", daemon=True)
    closing.start()
    deadline = time.monotonic() + timeout
    while closing.is_alive() and time.monotonic() < deadline:
        closing.join(0.25)
        client = handler.client
        if client.closed and not client.is_connected():
            client.current_session_state.terminated = True
    return not closing.is_alive()
