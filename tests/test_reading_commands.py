"""`/papers read|unread|history` end to end: signed slash commands through the HTTP server and the router."""

from __future__ import annotations

import pytest

from bot import reading
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import post, slash_command_body
from tests.test_reading import ID_FORMS


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
