"""`/papers <id or link>` shows that paper first: stored, or fetched from arXiv (the fake) and stored; old-style
ids too. Through the real HTTP server and the router."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from bot.app import Services, build_arxiv_source
from bot.ingest import ingest_feed_file, ingest_records
from db.records import PaperRecord
from handlers.commands import papers_reply
from tests.conftest import SEED_FEED
from tests.reading.test_reading_commands import papers

TITLE = "Exploring the Limits of KV Cache Compression in Visual Autoregressive Transformers"


@pytest.mark.parametrize("text", ["2503.14881", "arXiv:2503.14881v2", "<https://arxiv.org/abs/2503.14881v1>",
                                  "https://arxiv.org/pdf/2503.14881", "<https://arxiv.org/html/2503.14881v1|link>"])
def test_an_id_or_link_shows_that_paper_first(slack_server, store, fake_slack, text):
    ingest_feed_file(store.session_factory, SEED_FEED)
    reply = papers(slack_server, fake_slack, text)
    sections = [b["text"]["text"] for b in reply["blocks"] if b["type"] == "section"]
    assert TITLE in sections[1], sections[:2]
    assert "1* paper matches" in sections[0]


def test_an_old_style_id_finds_its_stored_paper(slack_server, store, fake_slack):
    when = datetime(1999, 1, 4, tzinfo=UTC)
    ingest_records(store.session_factory, [PaperRecord(
        arxiv_id="hep-th/9901001", version=1, title="Old Style Strings", abstract="Strings in 1999.",
        authors=("A. Physicist",), primary_category="hep-th", categories=("hep-th",), published=when, updated=when)])
    reply = papers(slack_server, fake_slack, "hep-th/9901001")
    assert "Old Style Strings" in json.dumps(reply["blocks"])


def test_an_id_only_arxiv_knows_is_fetched_stored_and_shown(store, slack_settings, fake_arxiv):
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_delay_seconds=0.01)
    services = Services(settings=settings, store=store, arxiv=build_arxiv_source(settings, store=store))
    command = {"text": "2503.14881", "team_id": "T0TEAM", "user_id": "U0ALICE", "channel_id": "C0DIGEST"}
    reply = papers_reply(services, command)
    assert TITLE in json.dumps(reply["blocks"])
    assert len(fake_arxiv.requests) == 1
    papers_reply(services, command)  # now it is stored: no second request
    assert len(fake_arxiv.requests) == 1
