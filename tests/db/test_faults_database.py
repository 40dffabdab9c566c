"""The database going away under a running server: every command and click is acked, and the user gets a
short ephemeral apology (no traceback, no 5xx, no hang); the App Home keeps its last view; /readyz fails
(/healthz, the process, stays up)."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest
import requests

from bot.app import Services, build_bolt_app, build_store, build_wsgi_app, make_http_server
from bot.config import Settings
from bot.render_blocks.common import MARK_READ, MARK_UNREAD, OPEN_PDF, SEARCH_MORE, SEARCH_SHARE
from tests.conftest import run_server_in_thread
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET, block_actions_body, event_body, post, slash_command_body

COMMANDS = ["kv cache", "history", "read 2503.14881", "unread 2503.14881", "topic", "topic set sparse, pruning",
            "author:han since:2025-03-01 sparse"]
CLICKS = [(MARK_READ, "2503.14881"), (MARK_UNREAD, "2503.14881"), (OPEN_PDF, "2503.14881"),
          (SEARCH_SHARE, "2503.14881"), (SEARCH_MORE, json.dumps({"q": "kv cache", "o": 5}))]
LEAKS = ("Traceback", "OperationalError", "sqlalchemy", "psycopg", "127.0.0.1", "postgres", "sqlite", "SELECT")


@pytest.fixture
def silent_port():
    """A TCP port that accepts connections and never says a word: a database host that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.02)  # how often the loop sees `stop`: the fixture's teardown waits that long
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    listener.close()


def down_urls(tmp_path, silent_port) -> dict[str, str]:
    return {
        "postgres-refused": "postgresql+psycopg://postgres@127.0.0.1:1/papers",
        "postgres-hangs": f"postgresql+psycopg://postgres@127.0.0.1:{silent_port}/papers",
        "sqlite-gone": f"sqlite:///{tmp_path}/removed-directory/papers.db",
    }


@pytest.fixture(params=["postgres-refused", "postgres-hangs", "sqlite-gone"])
def down_server(request, tmp_path, silent_port, fake_slack):
    """The real server, started while its database is gone (as if it went away after start-up)."""
    settings = Settings(database_url=down_urls(tmp_path, silent_port)[request.param], slack_bot_token=BOT_TOKEN,
                        slack_signing_secret=SIGNING_SECRET, slack_api_url=fake_slack.base_url,
                        digest_channel="C0DIGEST",
                        # The hanging host is given up on after this; 1 s (not the default 5) keeps the test short.
                        database_connect_timeout_seconds=1)
    store = build_store(settings, migrate=False)
    services = Services(settings=settings, store=store)
    server = make_http_server(build_wsgi_app(build_bolt_app(services), store), host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    yield f"http://127.0.0.1:{server.effective_port}"
    stop()
    store.engine.dispose()


def assert_short_apology(message: dict) -> None:
    text = message["text"] + json.dumps(message.get("blocks", []))
    assert message.get("response_type", "ephemeral") == "ephemeral"
    assert message["text"].startswith("Sorry") and "try again" in message["text"]
    assert len(message["text"]) < 200
    assert not any(leak.lower() in text.lower() for leak in LEAKS), text


def test_every_command_gets_a_short_apology_while_the_database_is_down(down_server, fake_slack):
    for n, text in enumerate(COMMANDS):
        body = slash_command_body(text, response_url=fake_slack.response_url(f"c{n}"))
        response = post(f"{down_server}/slack/events", body)  # requests' own 10 s timeout guards a hang
        assert response.status_code == 200 and response.text == ""
    replies = fake_slack.wait_for("response_url", len(COMMANDS), timeout=60)
    assert sorted(c.path for c in replies) == sorted(f"/response/c{n}" for n in range(len(COMMANDS)))
    for reply in replies:
        assert_short_apology(reply.args)
    assert fake_slack.calls_to("chat.postMessage", ok=None) == []


def test_every_click_gets_a_short_apology_while_the_database_is_down(down_server, fake_slack):
    for n, (action_id, value) in enumerate(CLICKS):
        action = {"type": "button", "action_id": action_id, "value": value, "block_id": "b1",
                  "text": {"type": "plain_text", "text": "x"}}
        body = block_actions_body(action, response_url=fake_slack.response_url(f"k{n}"))
        response = post(f"{down_server}/slack/events", body)
        assert response.status_code == 200
    replies = fake_slack.wait_for("response_url", len(CLICKS), timeout=60)
    assert len(replies) == len(CLICKS)
    for reply in replies:
        assert_short_apology(reply.args)
        assert reply.args.get("replace_original") in (False, None, True)
    assert fake_slack.calls_to("chat.postMessage", ok=None) == []  # nothing shared to the channel


def test_the_app_home_keeps_its_last_view_while_the_database_is_down(down_server, fake_slack, caplog):
    caplog.set_level(logging.WARNING)
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D1"})
    response = post(f"{down_server}/slack/events", body, content_type="application/json")
    assert response.status_code == 200
    deadline = time.monotonic() + 60
    while not any("App Home not refreshed for U0ALICE" in r.getMessage() for r in caplog.records):
        assert time.monotonic() < deadline, "the home event was never handled"
        time.sleep(0.05)
    [line] = [r.getMessage() for r in caplog.records if "App Home not refreshed" in r.getMessage()]
    assert "couldn't reach" in line
    assert fake_slack.calls_to("views.publish", ok=None) == []


def test_readyz_fails_fast_while_the_database_is_down_and_healthz_stays_up(down_server):
    response = requests.get(f"{down_server}/readyz", timeout=30)
    assert response.status_code == 503 and response.json()["ok"] is False
    assert response.json()["database"].startswith("database check failed")
    assert response.json()["reason"].startswith("database: database check failed")
    assert not any(leak in response.text for leak in ("postgres@", "Traceback"))
    # The process itself is up: an orchestrator should wait for the database, not restart the server.
    assert requests.get(f"{down_server}/healthz", timeout=5).json() == {"ok": True}


class DroppingPoster:
    """Posts through the real client; after the second message every other PostgreSQL connection is killed,
    as a database restart or a proxy's idle timeout would."""

    def __init__(self, inner, engine):
        self.inner, self.engine, self.count = inner, engine, 0

    def post(self, **kwargs):
        from sqlalchemy import text

        ts = self.inner.post(**kwargs)
        self.count += 1
        if self.count == 2:
            with self.engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
        return ts


def test_a_digest_whose_database_connections_are_dropped_mid_run_carries_on(store, database_url, slack_settings,
                                                                          fake_slack):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL connection pool")
    from bot import digest, ingest
    from bot.app import build_digest_poster
    from tests.conftest import SEED_FEED
    from tests.digest.test_digest_slack import DAY, SEED_ON_TOPIC, posted_paper_ids

    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    admin_store = build_store(slack_settings, migrate=False)
    try:
        poster = DroppingPoster(build_digest_poster(slack_settings), admin_store.engine)
        report = digest.post_digest(store.session_factory, poster, slack_settings, channel="C0DIGEST",
                                    digest_date=DAY, pace_seconds=0)
    finally:
        admin_store.engine.dispose()
    assert report.status == "posted" and report.papers_posted == SEED_ON_TOPIC
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC
