"""Composition root: builds the store, the arXiv source, the Bolt app and the scheduler from Settings.

Nothing else wires components together; the CLI and the tests call these builders. The Slack edge
(the Bolt app, the Web client, the HTTP server) is built in handlers/ and wired here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import scheduler, search_index, workspaces
from bot.arxiv_source import ArxivSource
from bot.config import ConfigError, Settings
from bot.metrics import EXPOSITION_CONTENT_TYPE, NOT_EXPOSED, Metrics
from bot.oai_source import PoliteOaiClient
from db.arxiv_pacing import SharedArxivPacing
from db.installations import installed_team_ids
from db.session import DatabaseUnavailable, check_database, make_engine, make_session_factory, upgrade
from handlers import http_server, oauth

# The Slack edge, built in handlers/ and offered here with the rest of the wiring (the CLI and tests use these).
from handlers.bolt_app import SlackUnavailable as SlackUnavailable
from handlers.bolt_app import build_bolt_app as build_bolt_app
from handlers.digest_poster import SlackPoster
from handlers.dms import AlertReport, send_daily_dms
from handlers.dms import send_follow_alerts as send_follow_alerts
from handlers.http_server import make_http_server as make_http_server
from handlers.topic import notify_paused
from handlers.web_client import build_web_client
from handlers.workspace_clients import SingleTokenWorkspace


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
    store = Store(engine=engine, session_factory=make_session_factory(engine))
    if migrate and settings.slack_team_id:  # known offline: rows from before workspaces are its (migration 0011)
        workspaces.adopt_unassigned_rows(store.session_factory, settings.slack_team_id)
    return store


def build_arxiv_source(settings: Settings, *, store: Store | None = None, metrics: Metrics = NOT_EXPOSED
                       ) -> ArxivSource:
    """A new arXiv client. A long-running process builds ONE and shares it (Services.arxiv), so the
    client's lock holds for the digest and every `/papers read` lookup together. Its pacing goes through
    the database (db.arxiv_pacing), so all processes on it together keep ARXIV_DELAY_SECONDS; without
    `store`, the pacing opens its own engine on DATABASE_URL (the schema is migrated by then). Its requests are
    counted in `metrics` (the process's, when it serves them)."""
    pacing_store = store or build_store(settings, migrate=False)
    pacing = SharedArxivPacing(pacing_store.session_factory, delay_seconds=settings.arxiv_delay_seconds)
    return ArxivSource.from_settings(settings, pacing=pacing, metrics=metrics)


def build_oai_client(settings: Settings, *, store: Store) -> PoliteOaiClient:
    """The OAI-PMH client of `papers-bot backfill` (ARXIV_OAI_URL), paced with every other arXiv client on the
    database: arXiv counts the export API and OAI-PMH requests of one host together."""
    pacing = SharedArxivPacing(store.session_factory, delay_seconds=settings.arxiv_delay_seconds)
    return PoliteOaiClient.from_settings(settings, pacing=pacing)


# -- Slack --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Services:
    """What the listeners may use: settings, the store, the process's one arXiv client and its metrics. Handlers
    pass these to domain functions. Left out, `arxiv` is built from the settings, and `metrics` are new."""

    settings: Settings
    store: Store
    arxiv: ArxivSource | None = None  # None: __post_init__ builds it from settings, so it is never None after
    metrics: Metrics = field(default_factory=Metrics)

    def __post_init__(self) -> None:
        if self.arxiv is None:
            object.__setattr__(self, "arxiv", build_arxiv_source(self.settings, store=self.store,
                                                                 metrics=self.metrics))


def build_digest_poster(settings: Settings, client=None) -> SlackPoster:
    """The digest's poster, through `client` (a workspace's), else SLACK_BOT_TOKEN's."""
    if client is None:
        settings.require("SLACK_BOT_TOKEN")
        client = build_web_client(settings)
    return SlackPoster(client)


def workspace_installations(settings: Settings, store: Store) -> workspaces.Installations:
    """The workspaces the daily jobs run for, each with its own Web client (bot.workspaces' seam).

    Single-token mode: SLACK_BOT_TOKEN's one workspace, which also takes the rows from before workspaces the first
    time it is known. OAuth mode: every installation with its own (refreshed) token, plus SLACK_BOT_TOKEN's
    workspace, when that is set too, until it installs through /slack/install (so turning OAuth on cuts no one off).
    """
    settings.require_slack_credentials()
    token_workspace = None
    if settings.slack_bot_token:
        token_workspace = SingleTokenWorkspace(
            settings, on_resolved=partial(workspaces.adopt_unassigned_rows, store.session_factory),
            on_token_accepted=lambda team_id: workspaces.token_accepted(store.session_factory, team_id,
                                                                        datetime.now(UTC)))
    if not settings.oauth_enabled:
        return token_workspace
    return partial(_installed_then_token_workspace, settings, store, token_workspace)


def _installed_then_token_workspace(settings: Settings, store: Store,
                                    token_workspace: SingleTokenWorkspace | None) -> list[tuple[str, object]]:
    served = [(team_id, build_web_client(settings, token=token))
              for team_id, token in installed_workspaces(settings, store)]
    installed = {team_id for team_id, _ in served}
    if token_workspace is not None:
        served += [(team_id, client) for team_id, client in token_workspace() if team_id not in installed]
    return served


def workspace_digest_job(settings: Settings, store: Store, arxiv: ArxivSource, metrics: Metrics,
                         workspace: workspaces.ServedWorkspace) -> scheduler.DigestJob:
    """One workspace's digests and DMs, all through that workspace's client. A channel paused for Slack's
    refusals is announced by DM to whoever last set its topic (handlers.topic)."""
    return scheduler.DigestJob(
        settings=settings,
        factory=store.session_factory,
        poster=SlackPoster(workspace.client),
        arxiv=arxiv,
        team_id=workspace.team_id,
        metrics=metrics,
        notify_paused=partial(notify_paused, workspace.client),
        send_alerts=partial(send_daily_dms, workspace.client, store.session_factory, team_id=workspace.team_id,
                            window_days=settings.foryou_window_days),
        with_digest_channel=workspace.owns_digest_channel,
    )


def build_daily_digests(settings: Settings, store: Store, *, arxiv: ArxivSource | None = None,
                        installations: workspaces.Installations | None = None,
                        metrics: Metrics = NOT_EXPOSED) -> scheduler.DailyDigests:
    """What the schedule runs each digest day and `papers-bot digest --all` runs at once: every workspace, every
    channel with a topic, each through its workspace's client."""
    arxiv = arxiv or build_arxiv_source(settings, store=store, metrics=metrics)
    return scheduler.DailyDigests(
        settings=settings,
        factory=store.session_factory,
        installations=installations or workspace_installations(settings, store),
        job_for=partial(workspace_digest_job, settings, store, arxiv, metrics),
    )


def build_scheduler(settings: Settings, store: Store, *, blocking: bool, arxiv: ArxivSource | None = None,
                    installations: workspaces.Installations | None = None, metrics: Metrics = NOT_EXPOSED):
    """The digest scheduler (bot.scheduler): for every workspace, fetch from arXiv, then post through Slack, on
    DIGEST_* times; and the daily retention purge. Pass the process's arXiv client (Services.arxiv) when the
    listeners run in the same process, and its metrics when it serves /metrics."""
    daily = build_daily_digests(settings, store, arxiv=arxiv, installations=installations, metrics=metrics)
    return scheduler.build_scheduler(daily, blocking=blocking)


# -- Operations: /healthz, /readyz, /metrics ---------------------------------------------------------------

# What /readyz says of the Slack token when the process got this far: build_bolt_app's auth.test accepted it
# (a token Slack refuses stops `serve` with one line before anything listens).
TOKEN_ACCEPTED = "ok"


def store_health(store: Store) -> tuple[bool, str]:
    """Whether the database answers: (reachable, "ok" or why not)."""
    try:
        check_database(store.engine)
    except DatabaseUnavailable as err:
        return False, str(err)
    return True, "ok"


def readiness(store: Store, *, slack: str | None = TOKEN_ACCEPTED,
              socket_connected: Callable[[], bool] | None = None) -> dict[str, str]:
    """What GET /readyz checks: the database now, the Slack token's state at start-up (None: this process has
    none to check), and in Socket Mode whether the WebSocket to Slack is open."""
    checks = {"database": store_health(store)[1]}
    if slack is not None:
        checks["slack"] = slack
    if socket_connected is not None:
        checks["socket"] = "ok" if socket_connected() else "not connected to Slack"
    return checks


def ops_routes(settings: Settings, store: Store, metrics: Metrics, **checks) -> http_server.OpsRoutes:
    """/healthz, /readyz (`readiness` with `checks`) and, with METRICS_ENABLED, /metrics behind METRICS_TOKEN."""
    return http_server.OpsRoutes(
        ready=partial(readiness, store, **checks),
        metrics=metrics.exposition if settings.metrics_enabled else None,
        metrics_content_type=EXPOSITION_CONTENT_TYPE,
        metrics_token=settings.metrics_token,
    )


def build_wsgi_app(bolt_app, store: Store, *, services: Services | None = None):
    """The HTTP routes (handlers.http_server): Slack's, and the operator's with `services`' settings and metrics
    (without: metrics off)."""
    settings, metrics = (services.settings, services.metrics) if services else (Settings(), NOT_EXPOSED)
    return http_server.build_wsgi_app(bolt_app, ops=ops_routes(settings, store, metrics))


def serve_health(settings: Settings, store: Store, metrics: Metrics, **checks):
    """With HEALTH_PORT set, /healthz, /readyz and /metrics on that port, from a background thread; returns the
    server (None without HEALTH_PORT)."""
    if settings.health_port is None:
        return None
    try:
        server = http_server.HealthServer(ops_routes(settings, store, metrics, **checks), host="0.0.0.0",
                                          port=settings.health_port)
    except OSError as err:
        raise ConfigError(f"HEALTH_PORT {settings.health_port}: cannot listen there ({err.strerror})") from None
    return server.start()


def send_alerts(settings: Settings, store: Store, *, until=None,
                installations: workspaces.Installations | None = None) -> AlertReport:
    """`papers-bot alerts` / `digest`: the follow-alert DMs due now (handlers.dms), every workspace through its
    own client."""
    results = workspaces.run_for_each_workspace(
        store.session_factory, settings, installations or workspace_installations(settings, store),
        lambda workspace: send_follow_alerts(workspace.client, store.session_factory, team_id=workspace.team_id,
                                             until=until))
    return AlertReport(sent=sum(r.sent for r in results.values()), skipped=sum(r.skipped for r in results.values()))


def installed_workspaces(settings: Settings, store: Store) -> list[tuple[str, str]]:
    """(team_id, bot token) for every workspace that installed the app through OAuth (SLACK_CLIENT_ID), in team
    id order, each token fresh (a rotating one is refreshed through the installation store when due). Empty
    without OAuth: a SLACK_BOT_TOKEN install serves its one workspace with that token."""
    if not settings.oauth_enabled:
        return []
    with store.session_factory() as session:
        team_ids = installed_team_ids(session, client_id=settings.slack_client_id)
    return oauth.bot_tokens(settings, store.engine, build_web_client(settings), team_ids)
