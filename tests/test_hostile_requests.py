"""Hostile HTTP requests against the real server: each gets a 4xx and nothing runs -- no reply, no read, no
post -- while the same command, properly signed, does run (so "nothing ran" is not a slow listener)."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import reading
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, signed_headers, slash_command_body


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return slack_server


def _command(fake_slack) -> str:
    return slash_command_body("read 2503.14881", response_url=fake_slack.response_url("hostile"))


def _click(fake_slack) -> str:
    action = {"type": "button", "action_id": MARK_READ, "value": "2503.14881", "block_id": "b1",
              "text": {"type": "plain_text", "text": "x"}}
    return block_actions_body(action, response_url=fake_slack.response_url("hostile"))


def forged(body: str) -> tuple[bytes, dict]:
    return body.encode(), signed_headers(body, secret="guessed-secret")


def replayed(body: str) -> tuple[bytes, dict]:
    return body.encode(), signed_headers(body, timestamp=int(time.time()) - 5 * 60 - 5)


def from_the_future(body: str) -> tuple[bytes, dict]:
    return body.encode(), signed_headers(body, timestamp=int(time.time()) + 10 * 60)


def tampered(body: str) -> tuple[bytes, dict]:
    headers = signed_headers(body)
    return (body + "&text=history").encode(), headers  # signed one body, sent another


def no_timestamp(body: str) -> tuple[bytes, dict]:
    headers = signed_headers(body)
    del headers["X-Slack-Request-Timestamp"]
    return body.encode(), headers


def no_signature(body: str) -> tuple[bytes, dict]:
    headers = signed_headers(body)
    del headers["X-Slack-Signature"]
    return body.encode(), headers


def empty_signature(body: str) -> tuple[bytes, dict]:
    return body.encode(), {**signed_headers(body), "X-Slack-Signature": "v0="}


def wrong_content_type(body: str) -> tuple[bytes, dict]:
    return body.encode(), signed_headers(body, content_type="text/plain")


def multipart(body: str) -> tuple[bytes, dict]:
    return body.encode(), signed_headers(body, content_type="multipart/form-data; boundary=x")


def over_one_megabyte(body: str) -> tuple[bytes, dict]:
    padded = body + "&" + urlencode({"pad": "x" * 1_048_576})
    return padded.encode(), signed_headers(padded)  # correctly signed, and still refused


HOSTILE = [forged, replayed, from_the_future, tampered, no_timestamp, no_signature, empty_signature,
           wrong_content_type, multipart, over_one_megabyte]


@pytest.mark.parametrize("make_body", [_command, _click], ids=["slash-command", "button-click"])
@pytest.mark.parametrize("attack", HOSTILE, ids=[a.__name__ for a in HOSTILE])
def test_a_hostile_request_gets_a_4xx_and_nothing_runs(server, store, fake_slack, listener_work, attack, make_body):
    body = make_body(fake_slack)
    data, headers = attack(body)
    response = requests.post(f"{server}/slack/events", data=data, headers=headers, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
    assert "Traceback" not in response.text and len(response.text) < 200

    # The genuine request after it runs and answers; by then the hostile one would have too.
    genuine = make_body(fake_slack)
    ok = requests.post(f"{server}/slack/events", data=genuine.encode(), headers=signed_headers(genuine), timeout=30)
    assert ok.status_code == 200
    replies = fake_slack.wait_for("response_url", 1, timeout=10)
    assert listener_work.wait_idle()  # both requests were answered, so whatever they started has finished
    assert len(fake_slack.calls_to("response_url")) == len(replies) == 1
    assert fake_slack.calls_to("chat.postMessage", ok=None) == []
    assert len(reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE").reads) == 1


@given(text=st.text(max_size=300) | st.sampled_from(["<!channel>", "<@U0BOSS>", "\u202e", "*_~`", "%00", "\x00"]))
@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_any_command_text_through_the_server_is_acked_and_answered_without_live_markup(server, fake_slack, text):
    before = len(fake_slack.calls_to("response_url"))
    body = slash_command_body(text, response_url=fake_slack.response_url("any"))
    response = requests.post(f"{server}/slack/events", data=body.encode(), headers=signed_headers(body), timeout=30)
    assert response.status_code == 200
    replies = fake_slack.wait_for("response_url", before + 1, timeout=15)
    assert len(replies) == before + 1
    reply = replies[-1].args
    assert reply.get("response_type") == "ephemeral" and reply["text"]
    assert "something went wrong" not in reply["text"]
    assert fake_slack.live_markup() == []
