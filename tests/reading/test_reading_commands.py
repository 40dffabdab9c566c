"""`/papers read|unread|history` end to end: signed slash commands through the HTTP server and the router."""

from __future__ import annotations

import dataclasses
import time

import pytest

from bot import reading
from bot.app import Services, build_bolt_app, build_wsgi_app, make_http_server
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED, run_server_in_thread
from tests.fakes.slack_api import TEAM_ID
from tests.reading.test_reading import ID_FORMS
from tests.slack_requests import event_body, post, slash_command_body


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return slack_server


def papers(server, fake_slack, text: str, *, user_id: str = "U0ALICE") -> dict:
    before = len(fake_slack.calls_to("response_url"))
    body = slash_command_body(text, user_id=user_id, response_url=fake_slack.response_url())
    assert post(f"{server}/slack/events", body).status_code == 200
    calls = fake_slack.wait_for("response_url", before + 1)
    assert len(calls) == before + 1
    return calls[-1].args


def read_ids(store, user_id: str = "U0ALICE") -> list[str]:
    page = reading.history(store.session_factory, team_id=TEAM_ID, user_id=user_id, limit=40)
    return [r.paper.arxiv_id for r in page.reads]


@pytest.mark.parametrize("ref", ID_FORMS)
def test_read_and_unread_commands_accept_every_id_form(server, store, fake_slack, ref):
    reply = papers(server, fake_slack, f"read {ref}")
    assert reply["response_type"] == "ephemeral" and "Marked read" in reply["text"]
    assert read_ids(store) == ["2503.14881"]
    assert "Marked unread" in papers(server, fake_slack, f"unread {ref}")["text"]
    assert read_ids(store) == []


def test_malformed_id_gets_a_clear_message(server, store, fake_slack):
    reply = papers(server, fake_slack, "read 2503.1")
    assert "is not an arXiv id" in reply["text"]
    assert read_ids(store) == []


def test_history_command_shows_only_the_askers_reads(server, store, fake_slack):
    papers(server, fake_slack, "read 2503.14881", user_id="U0ALICE")
    papers(server, fake_slack, "read arXiv:2503.15465", user_id="U0BOB")
    alice = papers(server, fake_slack, "history", user_id="U0ALICE")
    assert "2503.14881" in str(alice["blocks"]) and "2503.15465" not in str(alice["blocks"])
    bob = papers(server, fake_slack, "history 5", user_id="U0BOB")
    assert "2503.15465" in str(bob["blocks"]) and "2503.14881" not in str(bob["blocks"])


# -- arXiv lookups do not starve searches or the App Home ---------------------------------------------------


@pytest.fixture
def stalled_arxiv_server(slack_settings, store, fake_arxiv):
    """The real server whose arXiv answers each request after 2 s, past a 1.5 s timeout, with no retry."""
    ingest_feed_file(store.session_factory, SEED_FEED)
    fake_arxiv.faults = ["stall:2"] * 20
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_timeout_seconds=1.5,
                                   arxiv_max_retries=0)
    server = make_http_server(build_wsgi_app(build_bolt_app(Services(settings=settings, store=store)), store),
                              host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    yield f"http://127.0.0.1:{server.effective_port}"
    stop()


def test_reads_waiting_on_arxiv_answer_at_once_and_leave_searches_and_the_home_fast(stalled_arxiv_server,
                                                                                   fake_slack):
    url = f"{stalled_arxiv_server}/slack/events"
    for n in range(5):  # five users each ask for a paper the store does not have, while arXiv stalls
        body = slash_command_body(f"read 2601.0000{n}", user_id=f"U0READER{n}", response_url=fake_slack.response_url(
            f"read{n}"))
        assert post(url, body).status_code == 200

    started = time.monotonic()
    body = slash_command_body("kv cache", user_id="U0SEARCHER", response_url=fake_slack.response_url("search"))
    assert post(url, body).status_code == 200
    home = event_body({"type": "app_home_opened", "user": "U0HOME", "channel": "D0DM", "tab": "home"})
    assert post(url, home, content_type="application/json").status_code == 200
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and not (_replies_to(fake_slack, "search") and fake_slack.calls_to(
            "views.publish")):
        time.sleep(0.02)
    took = time.monotonic() - started
    assert _replies_to(fake_slack, "search") and fake_slack.calls_to("views.publish"), f"waited {took:.1f} s"
    assert _replies_to(fake_slack, "search")[0].args["text"].startswith("9 papers match")
    # Each reader was told at once that the paper is being fetched.
    assert all("from arXiv" in _replies_to(fake_slack, f"read{n}")[0].args["text"] for n in range(5))

    # The lookups finish one after another (arXiv: one connection at a time) and each reader hears back.
    for n in range(5):
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline and len(_replies_to(fake_slack, f"read{n}")) < 2:
            time.sleep(0.05)
        final = _replies_to(fake_slack, f"read{n}")
        assert len(final) == 2 and "arXiv did not answer" in final[1].args["text"]


def _replies_to(fake_slack, key: str):
    return [c for c in fake_slack.calls_to("response_url") if c.path.endswith(f"/{key}")]
