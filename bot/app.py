"""Composition root: builds the store, the arXiv source, the Bolt app and the scheduler from Settings.

Nothing else wires components together; the CLI and the tests call these builders. The Slack edge
(the Bolt app, the Web client, the HTTP server) is built in handlers/ and wired here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot import scheduler, search_index, workspaces
from bot.arxiv_source import ArxivSource
from bot.config import Settings
from bot.digest_records import PostReport
from db.arxiv_pacing import SharedArxivPacing
from db.session import DatabaseUnavailable, check_database, make_engine, make_session_factory, upgrade
from handlers import http_server

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


def build_arxiv_source(settings: Settings, *, store: Store | None = None) -> ArxivSource:
    """A new arXiv client. A long-running process builds ONE and shares it (Services.arxiv), so the
    client's lock holds for the digest and every `/papers read` lookup together. Its pacing goes through
    the database (db.arxiv_pacing), so all processes on it together keep ARXIV_DELAY_SECONDS; without
    `store`, the pacing opens its own engine on DATABASE_URL (the schema is migrated by then)."""
    pacing_store = store or build_store(settings, migrate=False)
    pacing = SharedArxivPacing(pacing_store.session_factory, delay_seconds=settings.arxiv_delay_seconds)
    return ArxivSource.from_settings(settings, pacing=pacing)


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
            object.__setattr__(self, "arxiv", build_arxiv_source(self.settings, store=self.store))


def build_digest_poster(settings: Settings) -> SlackPoster:
    settings.require("SLACK_BOT_TOKEN")
    return SlackPoster(build_web_client(settings))


def workspace_installations(settings: Settings, store: Store) -> workspaces.Installations:
    """The workspaces the daily jobs run for, each with its own Web client (bot.workspaces' seam). Single-token
    mode: SLACK_BOT_TOKEN's one workspace, which also takes the rows from before workspaces the first time it is
    known. An OAuth installation store plugs in here instead, yielding (team_id, its client) per installation."""
    return SingleTokenWorkspace(settings, on_resolved=partial(workspaces.adopt_unassigned_rows, store.session_factory))


def workspace_digest_job(settings: Settings, store: Store, arxiv: ArxivSource | None,
                         workspace: workspaces.ServedWorkspace) -> scheduler.DigestJob:
    """One workspace's digests and DMs, all through that workspace's client. A channel paused for Slack's
    refusals is announced by DM to whoever last set its topic (handlers.topic)."""
    return scheduler.DigestJob(
        settings=settings,
        factory=store.session_factory,
        poster=SlackPoster(workspace.client),
        arxiv=arxiv,
        team_id=workspace.team_id,
        notify_paused=partial(notify_paused, workspace.client),
        send_alerts=partial(send_daily_dms, workspace.client, store.session_factory, team_id=workspace.team_id,
                            window_days=settings.foryou_window_days),
        with_digest_channel=workspace.owns_digest_channel,
    )


def build_daily_digests(settings: Settings, store: Store, *, arxiv: ArxivSource | None = None,
                        installations: workspaces.Installations | None = None) -> scheduler.DailyDigests:
    """What the schedule runs each digest day and `papers-bot digest --all` runs at once: every workspace, every
    channel with a topic, each through its workspace's client."""
    return scheduler.DailyDigests(
        settings=settings,
        factory=store.session_factory,
        installations=installations or workspace_installations(settings, store),
        job_for=partial(workspace_digest_job, settings, store, arxiv or build_arxiv_source(settings, store=store)),
    )


def build_scheduler(settings: Settings, store: Store, *, blocking: bool, arxiv: ArxivSource | None = None,
                    installations: workspaces.Installations | None = None):
    """The digest scheduler (bot.scheduler): for every workspace, fetch from arXiv, then post through Slack, on
    DIGEST_* times; and the daily retention purge. Pass the process's arXiv client (Services.arxiv) when the
    listeners run in the same process."""
    daily = build_daily_digests(settings, store, arxiv=arxiv, installations=installations)
    return scheduler.build_scheduler(daily, blocking=blocking)


def run_all_digests(settings: Settings, store: Store, *, digest_date=None, arxiv: ArxivSource | None = None,
                    installations: workspaces.Installations | None = None) -> list[PostReport]:
    """`papers-bot digest --all`: the scheduled job, run once now (for `digest_date`, default today)."""
    return build_daily_digests(settings, store, arxiv=arxiv, installations=installations)(digest_date=digest_date)


def store_health(store: Store) -> tuple[bool, str]:
    """What GET /healthz reports: (healthy, the database's state)."""
    try:
        check_database(store.engine)
    except DatabaseUnavailable as err:
        return False, str(err)
    return True, "ok"


def build_wsgi_app(bolt_app, store: Store):
    """The HTTP routes (handlers.http_server), with /healthz checking this store's database."""
    return http_server.build_wsgi_app(bolt_app, health=partial(store_health, store))


def send_alerts(settings: Settings, store: Store, *, until=None,
                installations: workspaces.Installations | None = None) -> AlertReport:
    """`papers-bot alerts` / `digest`: the follow-alert DMs due now (handlers.dms), every workspace through its
    own client."""
    results = workspaces.run_for_each_workspace(
        store.session_factory, settings, installations or workspace_installations(settings, store),
        lambda workspace: send_follow_alerts(workspace.client, store.session_factory, team_id=workspace.team_id,
                                             until=until))
    return AlertReport(sent=sum(r.sent for r in results.values()), skipped=sum(r.skipped for r in results.values()))
