"""The HTTP side: the WSGI routes (POST /slack/events to Bolt; GET /healthz, /readyz and /metrics; GET
/slack/install and /slack/oauth_redirect to Bolt's OAuth flow when it is on) and the waitress servers (the
one Slack posts to, and the small health server of Socket Mode and the clock process).

The edge refuses what Bolt would choke on before it runs: a content type Slack never sends (415), signature
headers that cannot be a signature (401: Bolt's check raises on a non-numeric timestamp), and a body that
is not the JSON or form it claims to be (400: Bolt parses the body before it checks the signature). Each
refusal is one log line, never a traceback.

`OpsRoutes` answers the operator's paths: `/healthz` is 200 while the process serves (it touches nothing);
`/readyz` is 200 when every check the composition root passed in says "ok" (the database, the Slack token at
start-up, the Socket Mode connection), else 503 naming the first that is not; `/metrics` is the Prometheus
text, 404 unless metrics are on, and with a token set, 401 without `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
from collections.abc import Callable

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.render_install_pages import install_unavailable_page

log = logging.getLogger(__name__)

SLACK_CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json")
INSTALL_PATHS = ("/slack/install", "/slack/oauth_redirect")  # Bolt's OAuth pages (handlers/oauth.py), when enabled
MAX_REQUEST_BODY_BYTES = 1_048_576  # Slack's payloads are far smaller; anything bigger is refused (413).
# Unix seconds (10 digits until 2286) and Slack's `v0=` HMAC-SHA256 in hex.
_TIMESTAMP = re.compile(r"\d{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


def _answer(start_response, status: str, payload: bytes, content_type: str = "text/plain") -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(payload)))])
    return [payload]


def _signature_headers_problem(environ) -> str | None:
    timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
    signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
    if not _TIMESTAMP.fullmatch(timestamp):
        return f"bad X-Slack-Request-Timestamp ({len(timestamp)} characters)"
    if not _SIGNATURE.fullmatch(signature):
        return f"bad X-Slack-Signature ({len(signature)} characters)"
    return None


Readiness = Callable[[], dict[str, str]]  # each check's state: "ok", or a short reason it is not


class OpsRoutes:
    """GET /healthz, /readyz and /metrics (see the module docstring); any other path is 404."""

    PATHS = ("/healthz", "/readyz", "/metrics")

    def __init__(self, *, ready: Readiness, metrics: Callable[[], bytes] | None = None,
                 metrics_content_type: str = "text/plain", metrics_token: str | None = None):
        self.ready = ready
        self.metrics = metrics  # None: metrics are off
        self.metrics_content_type = metrics_content_type
        self.metrics_token = metrics_token

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _answer(start_response, "200 OK", b'{"ok": true}', "application/json")
        if path == "/readyz":
            return self.readiness(start_response)
        if path == "/metrics" and self.metrics is not None:
            return self.metrics_page(environ, start_response)
        return _answer(start_response, "404 Not Found", b"not found")

    def readiness(self, start_response):
        checks = self.ready()
        problems = [f"{name}: {state}" for name, state in checks.items() if state != "ok"]
        body = {"ok": not problems, **checks}
        if problems:
            body["reason"] = problems[0]
        return _answer(start_response, "503 Service Unavailable" if problems else "200 OK", json.dumps(body).encode(),
                       "application/json")

    def metrics_page(self, environ, start_response):
        if self.metrics_token:
            given = environ.get("HTTP_AUTHORIZATION", "").encode("utf-8", "surrogateescape")
            if not hmac.compare_digest(given, f"Bearer {self.metrics_token}".encode()):
                start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("Content-Length", "20"),
                                                    ("WWW-Authenticate", "Bearer")])
                return [b"bearer token needed\n"]
        return _answer(start_response, "200 OK", self.metrics(), self.metrics_content_type)


class SlackWsgiApp:
    """POST /slack/events goes to Bolt; /healthz, /readyz and /metrics to `ops`; GET /slack/install and
    /slack/oauth_redirect to Bolt's OAuth flow (404 without one); anything else is 404."""

    def __init__(self, bolt_app, *, ops: OpsRoutes):
        self.slack = SlackRequestHandler(bolt_app, path="/slack/events")
        self.ops = ops

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path in OpsRoutes.PATHS:
            return self.ops(environ, start_response)
        if environ.get("REQUEST_METHOD") == "POST" and path == "/slack/events":
            return self.slack_event(environ, start_response)
        if environ.get("REQUEST_METHOD") == "GET" and path in INSTALL_PATHS:
            return self.install_page(environ, start_response)
        return self.slack(environ, start_response)

    def install_page(self, environ, start_response):
        """Bolt's OAuth pages, with a page rather than a traceback when their stores fail (a database that does
        not answer while a state is issued or consumed, or an installation saved)."""
        try:
            return self.slack(environ, start_response)
        except Exception as err:  # an installer's browser sees a page; the cause is logged, once
            log.error("GET %s failed (503): %s", environ.get("PATH_INFO"), type(err).__name__)
            return _answer(start_response, "503 Service Unavailable", install_unavailable_page().encode(),
                           "text/html; charset=utf-8")

    def slack_event(self, environ, start_response):
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
        if content_type not in SLACK_CONTENT_TYPES:
            # Bolt would guess the format from the body; refuse before anything runs.
            return _answer(start_response, "415 Unsupported Media Type", b"unsupported content type")
        problem = _signature_headers_problem(environ)
        if problem:
            log.warning("refused a request to /slack/events (401): %s", problem)
            return _answer(start_response, "401 Unauthorized", b"invalid request signature")
        try:
            return self.slack(environ, start_response)
        except ValueError as err:  # the body is not the JSON or form it claims (JSONDecodeError, UnicodeDecodeError)
            log.warning("refused a request to /slack/events (400): unreadable %s body (%s)", content_type,
                        type(err).__name__)
            return _answer(start_response, "400 Bad Request", b"unreadable request body")


def build_wsgi_app(bolt_app, *, ops: OpsRoutes) -> SlackWsgiApp:
    return SlackWsgiApp(bolt_app, ops=ops)


# Sized for Slack: small requests sent whole, each answered in milliseconds (the work runs after the ack
# on Bolt's listener pool), so few threads serve many requests, and a connection that has said nothing
# for a few seconds is not Slack. waitress's defaults (100 connections, idle ones reaped after 30-60 s)
# let ~100 idle sockets hold every genuine request past Slack's 3 s. README "Production" says what to
# put in front (a reverse proxy with its own timeouts), which also absorbs slow-trickling clients.
HTTP_THREADS = 16
CONNECTION_LIMIT = 1000  # above select()'s 1,024 descriptors only with poll(), hence asyncore_use_poll
IDLE_TIMEOUT_SECONDS = 10  # an idle connection (or a request cut short) is closed after this ...
IDLE_CHECK_SECONDS = 2  # ... checked this often


def make_http_server(wsgi_app, *, host: str, port: int):
    """A production WSGI server (waitress, a thread pool) -- not Bolt's development server."""
    return create_server(
        wsgi_app,
        host=host,
        port=port,
        threads=HTTP_THREADS,
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,
        channel_timeout=IDLE_TIMEOUT_SECONDS,
        cleanup_interval=IDLE_CHECK_SECONDS,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        ident="papers-bot",
    )


HEALTH_THREADS = 2  # an orchestrator's probes and a Prometheus scrape, a few a minute


class HealthServer:
    """The operator's paths alone on their own port (Socket Mode and the clock process serve nothing else), served
    from a daemon thread beside the process's real work."""

    def __init__(self, ops: OpsRoutes, *, host: str, port: int):
        self.server = create_server(ops, host=host, port=port, threads=HEALTH_THREADS,
                                    channel_timeout=IDLE_TIMEOUT_SECONDS, max_request_body_size=MAX_REQUEST_BODY_BYTES,
                                    ident="papers-bot-health")
        self.effective_port = self.server.effective_port
        self._closing = threading.Event()

    def start(self) -> HealthServer:
        threading.Thread(target=self._run, name="health-server", daemon=True).start()
        return self

    def _run(self) -> None:
        try:
            self.server.run()
        except OSError:
            if not self._closing.is_set():  # closing the socket under select() raises EBADF; only that is expected
                raise

    def close(self) -> None:
        self._closing.set()
        self.server.close()
