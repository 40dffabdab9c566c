"""The HTTP side: the WSGI routes (POST /slack/events to Bolt, GET /healthz) and the waitress server.

`/healthz` reports what the `health` callable passed in says (the composition root checks the database),
so nothing here touches storage.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

SLACK_CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json")
MAX_REQUEST_BODY_BYTES = 1_048_576  # Slack's payloads are far smaller; anything bigger is refused (413).


def _answer(start_response, status: str, payload: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


def build_wsgi_app(bolt_app, *, health: Callable[[], tuple[bool, str]]):
    """POST /slack/events goes to Bolt; GET /healthz answers `health()` = (ok, the database's state);
    anything else is 404."""
    slack = SlackRequestHandler(bolt_app, path="/slack/events")

    def wsgi_app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            ok, database = health()
            body = json.dumps({"ok": ok, "database": database}).encode()
            return _answer(start_response, "200 OK" if ok else "503 Service Unavailable", body, "application/json")
        if environ.get("REQUEST_METHOD") == "POST" and path == "/slack/events":
            content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
            if content_type not in SLACK_CONTENT_TYPES:
                # Bolt would guess the format from the body; refuse before anything runs.
                return _answer(start_response, "415 Unsupported Media Type", b"unsupported content type", "text/plain")
        return slack(environ, start_response)

    return wsgi_app


def make_http_server(wsgi_app, *, host: str, port: int):
    """A production WSGI server (waitress, a thread pool) -- not Bolt's development server."""
    return create_server(
        wsgi_app,
        host=host,
        port=port,
        threads=16,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        channel_timeout=30,
        ident="papers-bot",
    )
