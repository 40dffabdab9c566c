"""Shared fixtures: a real database per test (SQLite file, or PostgreSQL when TEST_DATABASE_URL is
set), the loopback arXiv fake, and settings built without touching the process environment."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import Store, build_store
from bot.config import Settings, normalise_database_url
from tests.fakes.arxiv_api import FakeArxiv
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
from tests.slack_requests import SIGNING_SECRET

FIXTURES = Path(__file__).parent / "fixtures"
SEED_FEED = FIXTURES / "seed_feed.atom.xml"
# Set by .ci/run for the PostgreSQL pass, e.g. postgresql://postgres@127.0.0.1:5432/papers_ci_123
PG_URL = os.environ.get("TEST_DATABASE_URL")
_TABLES = ("reads", "digest_items", "digest_runs", "channel_topics", "papers")


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL.rsplit('/', 1)[-1] if PG_URL else 'SQLite (temp files)'}"


@pytest.fixture(scope="session")
def _pg_migrated():
    if not PG_URL:
        return None
    store = build_store(Settings(database_url=normalise_database_url(PG_URL)))
    store.engine.dispose()
    return normalise_database_url(PG_URL)


@pytest.fixture
def database_url(tmp_path, _pg_migrated) -> str:
    if _pg_migrated:
        store = build_store(Settings(database_url=_pg_migrated), migrate=False)
        with store.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
        store.engine.dispose()
        return _pg_migrated
    return f"sqlite:///{tmp_path / 'papers.db'}"


@pytest.fixture
def env(database_url, monkeypatch) -> dict[str, str]:
    """The environment a deployment would set, applied to os.environ for CLI tests."""
    values = {
        "DATABASE_URL": database_url,
        "ARXIV_DELAY_SECONDS": "0.05",
        "ARXIV_TIMEOUT_SECONDS": "2",
        "DIGEST_CHANNEL": "C0DIGEST",
        # Slack's one-message-a-second pacing is waiting, not behaviour under test; the tests about
        # pacing set DIGEST_PACE_SECONDS themselves (tests/test_digest_pace.py, tests/test_faults_process.py).
        "DIGEST_PACE_SECONDS": "0",
    }
    for name in list(os.environ):
        if name.startswith(("SLACK_", "DIGEST_", "ARXIV_")):
            monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


@pytest.fixture
def settings(env) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def store(settings) -> Store:
    store = build_store(settings)
    yield store
    store.engine.dispose()


@pytest.fixture
def fake_arxiv():
    fake = FakeArxiv().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_slack():
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def slack_env(env, fake_slack, monkeypatch) -> dict[str, str]:
    """Settings for a Slack-connected process whose Web API is the loopback fake."""
    extra = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.base_url}
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    return {**env, **extra}


@pytest.fixture
def slack_settings(slack_env) -> Settings:
    return Settings.from_env(slack_env)


@pytest.fixture
def slack_server(slack_settings, store):
    """The real HTTP server (waitress + Bolt's WSGI adapter) on a loopback port; yields its base URL."""
    from bot.app import Services, build_bolt_app, build_wsgi_app, make_http_server

    services = Services(settings=slack_settings, store=store)
    server = make_http_server(build_wsgi_app(build_bolt_app(services), store), host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    yield f"http://127.0.0.1:{server.effective_port}"
    stop()


def run_server_in_thread(server):
    """Run a waitress server in a daemon thread; returns a stop function that closes it quietly."""
    import threading

    closing = threading.Event()

    def run():
        try:
            server.run()
        except OSError:
            if not closing.is_set():  # closing the socket under select() raises EBADF; only that is expected
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop():
        closing.set()
        server.close()

    return stop
