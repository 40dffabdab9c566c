"""Socket Mode end to end: the real Bolt app and slack_sdk's Socket Mode client, connected to a loopback
endpoint that speaks Slack's envelope protocol; a command, a button click and an event each are acked and
handled. First deliveries carry `retry_attempt: 0`, as Slack sends them."""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest

from bot import reading
from bot.app import Services, build_bolt_app
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ
from handlers.socket_mode import socket_mode_handler
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID
from tests.fakes.socket_mode import APP_ID, APP_TOKEN, FakeSlackWithSocketMode, close_handler


@pytest.fixture
def slack():
    fake = FakeSlackWithSocketMode().start()
    yield fake
    fake.stop()


@pytest.fixture
def connected(settings, store, slack):
    """The app served over Socket Mode (no signing secret, no HTTP server), connected to the fake."""
    ingest_feed_file(store.session_factory, SEED_FEED)
    socket_settings = dataclasses.replace(settings, slack_bot_token=BOT_TOKEN, slack_api_url=slack.base_url,
                                          slack_app_token=APP_TOKEN, slack_signing_secret=None)
    handler = socket_mode_handler(build_bolt_app(Services(settings=socket_settings, store=store)), APP_TOKEN)
    handler.connect()
    assert slack.socket_mode.wait_connected(), "the client never opened the WebSocket"
    yield slack
    assert close_handler(handler)  # about 3 s: slack_sdk's client joins its interval threads; hence few connections


def _acked(slack, envelope_id: str) -> dict:
    ack = slack.socket_mode.wait_for_ack(envelope_id, timeout=3)
    assert ack is not None, "no ack within Slack's 3 s"
    return ack


def _wait(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := predicate():
            return found
        time.sleep(0.02)
    return predicate()


def test_a_command_a_click_and_an_event_over_socket_mode_are_acked_and_handled(connected, store):
    slack = connected
    _slash_command(slack)
    _button_click(slack, store)
    _app_home_opened_first_delivery_runs_and_a_retry_does_not(slack)


def _slash_command(slack) -> None:
    envelope_id = slack.socket_mode.send("slash_commands", {
        "token": "x", "team_id": TEAM_ID, "team_domain": "test", "channel_id": "C0DIGEST", "channel_name": "papers",
        "user_id": "U0ALICE", "user_name": "alice", "command": "/papers", "text": "kv cache", "api_app_id": APP_ID,
        "is_enterprise_install": "false", "response_url": slack.response_url("socket"), "trigger_id": "1.2.3",
    })
    _acked(slack, envelope_id)
    [reply] = slack.wait_for("response_url")
    assert reply.args["text"].startswith("9 papers match")
    assert [c.method for c in slack.calls_to("apps.connections.open")] == ["apps.connections.open"]


def _button_click(slack, store) -> None:
    envelope_id = slack.socket_mode.send("interactive", {
        "type": "block_actions", "api_app_id": APP_ID, "token": "x", "trigger_id": "1.2.3",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": "test"}, "enterprise": None, "is_enterprise_install": False,
        "container": {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C0DIGEST",
                      "is_ephemeral": False},
        "channel": {"id": "C0DIGEST", "name": "papers"}, "response_url": slack.response_url("click"),
        "message": {"type": "message", "ts": "1700000000.000200", "text": "digest", "blocks": []},
        "actions": [{"action_id": MARK_READ, "block_id": "b1", "type": "button", "value": "2503.14881",
                     "action_ts": f"{time.time():.6f}", "text": {"type": "plain_text", "text": "Mark read"}}],
    })
    _acked(slack, envelope_id)
    note = slack.wait_for("response_url", 2)[-1]
    assert note.path.endswith("/click") and "Marked read" in note.args["text"]
    [read] = reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE").reads
    assert read.paper.arxiv_id == "2503.14881" and read.source == "button"


def _app_home_opened_first_delivery_runs_and_a_retry_does_not(slack) -> None:
    def home_opened(event_id: str, retry_attempt: int) -> str:
        return slack.socket_mode.send("events_api", {
            "token": "x", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
            "event": {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0DM", "tab": "home",
                      "event_ts": f"{time.time():.6f}"},
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0BOT", "is_bot": True}],
        }, retry_attempt=retry_attempt)

    _acked(slack, home_opened("Ev0SOCKET1", 0))
    published = slack.wait_for("views.publish")
    assert published, "app_home_opened with retry_attempt 0 (a first delivery) was acked but never handled"
    view = published[0].args["view"]
    assert (json.loads(view) if isinstance(view, str) else view)["type"] == "home"

    # Slack re-delivers an event it thinks timed out, with retry_attempt 1: acked, and not run again.
    _acked(slack, home_opened("Ev0SOCKET1", 1))
    assert not _wait(lambda: len(slack.calls_to("views.publish")) > 1, timeout=1.0)


class _SlowToClose:
    """A socket whose close() returns late, as when the closing thread is held up right after closing it."""

    def __init__(self, sock, pause: float):
        self._sock, self._pause = sock, pause

    def close(self) -> None:
        self._sock.close()
        time.sleep(self._pause)

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_closing_ends_the_connection_and_its_threads_even_when_the_closing_thread_is_held_up(settings, store, slack):
    """slack_sdk's own close() waits forever when its receiving thread restarts the session in the middle of the
    close (a CI run stalled 17 minutes on it); close_handler ends that thread too."""
    socket_settings = dataclasses.replace(settings, slack_bot_token=BOT_TOKEN, slack_api_url=slack.base_url,
                                          slack_app_token=APP_TOKEN, slack_signing_secret=None)
    handler = socket_mode_handler(build_bolt_app(Services(settings=socket_settings, store=store)), APP_TOKEN)
    handler.connect()
    assert slack.socket_mode.wait_connected()
    session = handler.client.current_session
    session.sock = _SlowToClose(session.sock, pause=0.5)  # longer than a read's wait and the runner's 0.1 s nap
    runner = handler.client.current_session_runner.thread
    assert close_handler(handler, timeout=15)
    assert not runner.is_alive() and not handler.client.is_connected()
    assert not [t for t in threading.enumerate() if t is runner]
