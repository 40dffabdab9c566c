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
from bot.render_blocks.common import MARK_READ, SEARCH_SHARE
from handlers.replays import WINDOW_SECONDS, SkipReplays
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


# -- odd signature headers and bodies: a 4xx and one log line, never a 500 or a traceback ------------------

_NOW = str(int(time.time()))
_FORGED = "v0=" + "0" * 64
ODD_REQUESTS = {
    "timestamp-abc": ({"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": _FORGED}, "{}", "json", 401),
    "timestamp-400-digits": ({"X-Slack-Request-Timestamp": "9" * 400, "X-Slack-Signature": _FORGED}, "{}", "json",
                             401),
    "signature-not-hex": ({"X-Slack-Request-Timestamp": _NOW, "X-Slack-Signature": "v0=zz"}, "{}", "json", 401),
    "form-payload-not-json": ({"X-Slack-Request-Timestamp": _NOW, "X-Slack-Signature": _FORGED}, "payload=not{json",
                              "form", 400),
    "json-body-broken": ({"X-Slack-Request-Timestamp": _NOW, "X-Slack-Signature": _FORGED}, "{bad", "json", 400),
    "unsigned-json-broken": ({}, "{bad", "json", 401),
    "body-not-utf8": ({"X-Slack-Request-Timestamp": _NOW, "X-Slack-Signature": _FORGED}, b"payload=\xff\xfe{", "form",
                      400),
}
_TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("name", list(ODD_REQUESTS))
def test_odd_headers_or_body_get_a_4xx_and_one_log_line_without_a_traceback(server, fake_slack, caplog, name):
    headers, body, kind, expected = ODD_REQUESTS[name]
    caplog.clear()
    data = body if isinstance(body, bytes) else body.encode()
    response = requests.post(f"{server}/slack/events", data=data, timeout=10,
                             headers={**headers, "Content-Type": _TYPES[kind]})
    assert response.status_code == expected, response.text[:200]
    assert "Traceback" not in response.text and len(response.text) < 200
    assert [r for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")] == []
    refusals = [r for r in caplog.records if "refused a request" in r.getMessage()]
    assert len(refusals) == 1 and "\n" not in refusals[0].getMessage()
    # Signed the same way, the body is still refused: only Slack's own JSON or form gets through.
    if expected == 400:
        signed = requests.post(f"{server}/slack/events", data=data, timeout=10,
                               headers=signed_headers(data.decode("utf-8", "replace"), content_type=_TYPES[kind]))
        assert signed.status_code in (400, 401)
    assert fake_slack.calls_to("response_url", ok=None) == []


# -- a signed request replayed within Slack's 5 minutes changes nothing twice -------------------------------


def _send(server, data: bytes, headers: dict) -> None:
    assert requests.post(f"{server}/slack/events", data=data, headers=headers, timeout=10).status_code == 200


def test_a_replayed_share_click_posts_once(server, fake_slack):
    action = {"type": "button", "action_id": SEARCH_SHARE, "value": "2503.14881", "block_id": "b1",
              "text": {"type": "plain_text", "text": "Share"}}
    body = block_actions_body(action, response_url=fake_slack.response_url("share"))
    data, headers = body.encode(), signed_headers(body)
    _send(server, data, headers)
    assert len(fake_slack.wait_for("chat.postMessage", 1)) == 1
    _send(server, data, headers)  # the same bytes, the same signature, a few seconds later
    assert len(fake_slack.wait_for("chat.postMessage", 2, timeout=1.5)) == 1


def test_a_replayed_read_after_an_unread_does_not_read_it_again(server, store, fake_slack):
    read = slash_command_body("read 2503.14881", response_url=fake_slack.response_url("read"))
    read_data, read_headers = read.encode(), signed_headers(read)
    _send(server, read_data, read_headers)
    fake_slack.wait_for("response_url", 1)
    unread = slash_command_body("unread 2503.14881", response_url=fake_slack.response_url("unread"))
    _send(server, unread.encode(), signed_headers(unread))
    fake_slack.wait_for("response_url", 2)
    assert reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE").reads == []

    _send(server, read_data, read_headers)  # replayed
    assert len(fake_slack.wait_for("response_url", 3, timeout=1.5)) == 2
    assert reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE").reads == []
    # Another user's genuine read of the same paper still runs.
    bob = slash_command_body("read 2503.14881", user_id="U0BOB", response_url=fake_slack.response_url("bob"))
    _send(server, bob.encode(), signed_headers(bob))
    assert len(fake_slack.wait_for("response_url", 3)) == 3


def test_a_request_is_remembered_for_the_signature_window_and_then_forgotten():
    now = [1000.0]
    replays = SkipReplays(clock=lambda: now[0])
    key = ("T0TEAM", "U0ALICE", MARK_READ, "digest-of-the-body")
    assert not replays.seen_before(key)
    assert replays.seen_before(key)
    assert not replays.seen_before(("T0TEAM", "U0BOB", MARK_READ, "digest-of-the-body"))
    now[0] += WINDOW_SECONDS - 1
    assert replays.seen_before(key)
    now[0] += 2  # past Slack's window Bolt refuses the request anyway (test_server): it may be forgotten
    assert not replays.seen_before(key)
