"""Composition root: builds the store, the arXiv source, the Bolt app and the scheduler from Settings.

Nothing else wires components together; the CLI and the tests call these builders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import search_index
from bot.arxiv_source import ArxivSource
from bot.config import Settings
from db.session import make_engine, make_session_factory, upgrade


@dataclass(frozen=True)
class Store:
    engine: Engine
    session_factory: sessionmaker[Session]


def build_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The engine and session factory, with the schema brought to the latest migration."""
    engine = make_engine(settings.database_url, connect_timeout=settings.database_connect_timeout_seconds)
    if migrate:
        upgrade(engine)
    search_index.attach(engine, settings)  # SEARCH_ENGINE=index: searches try the derived index first
    return Store(engine=engine, session_factory=make_session_factory(engine))


def build_arxiv_source(settings: Settings) -> ArxivSource:
    """A new arXiv client. A long-running process builds ONE and shares it (Services.arxiv), so the
    client's lock and 3-second pacing hold for the digest and every `/papers read` lookup together."""
    return ArxivSource.from_settings(settings)


# -- Slack --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    """What the listeners may use: settings, the store and the process's one arXiv client. Handlers pass
    these to domain functions. Left out, `arxiv` is built from the settings."""

    settings: Settings
    store: Store
    arxiv: ArxivSource | None = None  # None: __post_init__ builds it from settings, so it is never None after

    def __post_init__(self) -> None:
        if self.arxiv is None:
            object.__setattr__(self, "arxiv", build_arxiv_source(self.settings))


def build_web_client(settings: Settings):
    """Every WebClient the app makes: pointed at SLACK_API_URL, retrying 429s after Retry-After, and a
    500/503 twice with backoff (slack_sdk retries neither by default)."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import (
        ConnectionErrorRetryHandler,
        RateLimitErrorRetryHandler,
        ServerErrorRetryHandler,
    )

    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=5),
                        ServerErrorRetryHandler(max_retry_count=2)],
    )


class SlackPoster:
    """The digest's MessagePoster: chat.postMessage through a WebClient, Slack errors as PostFailed."""

    def __init__(self, client):
        self.client = client

    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None) -> str:
        from slack_sdk.errors import SlackApiError

        from bot.digest import PostFailed

        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as err:
            status = err.response.status_code
            error = err.response.get("error") if isinstance(err.response.data, dict) else None
            # A 5xx may come with an HTML page instead of Slack's JSON: keep the code short and loggable.
            code = error if error and len(error) <= 64 and " " not in error else f"http_{status}"
            raise PostFailed(code, transient=status >= 500 or status == 429) from err
        except OSError as err:
            # No answer after the connection retries (refused, reset, timed out). A timeout may hide a
            # message that did land; the run stops here rather than guess, and a rerun posts the rest.
            raise PostFailed(f"connection_error: {type(err).__name__}", transient=True) from err
        return response["ts"]


def build_digest_poster(settings: Settings) -> SlackPoster:
    settings.require("SLACK_BOT_TOKEN")
    return SlackPoster(build_web_client(settings))


def build_scheduler(settings: Settings, store: Store, *, blocking: bool, arxiv: ArxivSource | None = None):
    """The digest scheduler (bot.scheduler): fetch from arXiv, then post through Slack, on DIGEST_* times.

    Pass the process's arXiv client (Services.arxiv) when the listeners run in the same process."""
    from bot import scheduler

    job = scheduler.DigestJob(
        settings=settings,
        factory=store.session_factory,
        poster=build_digest_poster(settings),
        arxiv=arxiv or build_arxiv_source(settings),
    )
    return scheduler.build_scheduler(job, blocking=blocking)


def build_bolt_app(services: Services):
    """The real Bolt app with signature verification and every listener registered."""
    from slack_bolt import App

    import handlers

    settings = services.settings
    settings.require("SLACK_BOT_TOKEN")
    if not settings.slack_app_token:
        settings.require("SLACK_SIGNING_SECRET")
    from slack_bolt.error import BoltError
    from slack_sdk.errors import SlackApiError

    try:
        app = App(
            client=build_web_client(settings),
            signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
            # Ack-then-work: listeners ack within Slack's 3 s, lazy functions do the rest in a thread.
            process_before_response=True,
            # auth.test once, here at start-up: left to the first request, it (and its retries) would eat
            # that request's 3 s, and a bad token would only show when a user types /papers.
            token_verification_enabled=True,
        )
    except (BoltError, SlackApiError) as err:
        # Bolt wraps auth.test's SlackApiError in a BoltError; the error code is on the original.
        cause = err if isinstance(err, SlackApiError) else err.__context__
        error = getattr(getattr(cause, "response", None), "data", None) or {}
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN at start-up ({error.get('error', 'auth.test failed')})"
                               ) from None
    except OSError as err:
        raise SlackUnavailable(f"cannot reach Slack's Web API at SLACK_API_URL ({type(err).__name__})") from None
    handlers.register(app, services)
    search_index.follow(services.store.engine)  # this process answers /papers: build and follow the index
    return app


class SlackUnavailable(Exception):
    """Slack's Web API refused the token or could not be reached when the app started."""


def build_wsgi_app(bolt_app, store: Store):
    """POST /slack/events goes to Bolt; GET /healthz checks the database; anything else is 404."""
    import json

    from slack_bolt.adapter.wsgi import SlackRequestHandler

    from db.session import DatabaseUnavailable, check_database

    slack = SlackRequestHandler(bolt_app, path="/slack/events")

    def wsgi_app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            try:
                check_database(store.engine)
                status, body = "200 OK", {"ok": True, "database": "ok"}
            except DatabaseUnavailable as err:
                status, body = "503 Service Unavailable", {"ok": False, "database": str(err)}
            payload = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]
        if environ.get("REQUEST_METHOD") == "POST" and path == "/slack/events":
            content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
            if content_type not in SLACK_CONTENT_TYPES:
                # Bolt would guess the format from the body; refuse before anything runs.
                payload = b"unsupported content type"
                start_response("415 Unsupported Media Type",
                               [("Content-Type", "text/plain"), ("Content-Length", str(len(payload)))])
                return [payload]
        return slack(environ, start_response)

    return wsgi_app


SLACK_CONTENT_TYPES = ("application/x-www-form-urlencoded", "application/json")
MAX_REQUEST_BODY_BYTES = 1_048_576  # Slack's payloads are far smaller; anything bigger is refused (413).


def make_http_server(wsgi_app, *, host: str, port: int):
    """A production WSGI server (waitress, a thread pool) -- not Bolt's development server."""
    from waitress.server import create_server

    return create_server(
        wsgi_app,
        host=host,
        port=port,
        threads=16,
        max_request_body_size=MAX_REQUEST_BODY_BYTES,
        channel_timeout=30,
        ident="papers-bot",
    )
