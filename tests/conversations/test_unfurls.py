"""arXiv link unfurls end to end: a `link_shared` event through the HTTP server gives one `chat.unfurl` on the fake
Slack, for stored papers and for papers only arXiv (the fake) knows, in every link form; arXiv down: no unfurl."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from datetime import UTC, datetime

import pytest

from bot.app import Services, build_arxiv_source, build_bolt_app, build_wsgi_app, make_http_server
from bot.ingest import ingest_records
from bot.render_blocks.common import MARK_READ, OPEN_PDF, SAVE_PAPER
from bot.unfurls import arxiv_ids_in_text
from db.records import PaperRecord
from tests.conftest import run_server_in_thread
from tests.fakes.arxiv_api import load_entries
from tests.slack_requests import event_body, post

STORED_TITLE = "Old Style Strings"
ARXIV_ONLY = "2503.14881"  # in the fake arXiv's feed, not stored
ARXIV_ONLY_TITLE = "Exploring the Limits of KV Cache Compression in Visual Autoregressive Transformers"


@pytest.fixture
def server(slack_settings, store, fake_arxiv):
    """The HTTP server whose process's arXiv client is the fake arXiv; only an old-style paper is stored."""
    when = datetime(1999, 1, 4, tzinfo=UTC)
    ingest_records(store.session_factory, [PaperRecord(
        arxiv_id="hep-th/9901001", version=2, title=STORED_TITLE, abstract="Strings in 1999. They vibrate. A lot.",
        authors=("A. Physicist", "B. <!channel> Person"), primary_category="hep-th",
        categories=("hep-th", "gr-qc"), published=when, updated=when)])
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_delay_seconds=0.01)
    services = Services(settings=settings, store=store, arxiv=build_arxiv_source(settings, store=store))
    http = make_http_server(build_wsgi_app(build_bolt_app(services), store), host="127.0.0.1", port=0)
    stop = run_server_in_thread(http)
    yield f"http://127.0.0.1:{http.effective_port}"
    stop()


def share(server, *urls: str, event_id: str = "Ev1") -> None:
    event = {"type": "link_shared", "channel": "C0DIGEST", "user": "U0ALICE", "message_ts": "1700000000.000500",
             "unfurl_id": "", "source": "conversations_history",
             "links": [{"domain": "arxiv.org", "url": url} for url in urls]}
    response = post(f"{server}/slack/events", event_body(event, event_id=event_id), content_type="application/json")
    assert response.status_code == 200


def unfurls_of(call) -> dict:
    unfurls = call.args["unfurls"]
    return json.loads(unfurls) if isinstance(unfurls, str) else unfurls


def test_a_stored_paper_and_one_only_arxiv_knows_unfurl_in_one_call(server, store, fake_slack, fake_arxiv):
    stored_url, fetched_url = "https://arxiv.org/abs/hep-th/9901001v2", f"https://arxiv.org/pdf/{ARXIV_ONLY}v1.pdf"
    share(server, stored_url, fetched_url)
    [call] = fake_slack.wait_for("chat.unfurl")
    assert call.args["channel"] == "C0DIGEST" and call.args["ts"] == "1700000000.000500"
    unfurls = unfurls_of(call)
    assert set(unfurls) == {stored_url, fetched_url}
    assert STORED_TITLE in json.dumps(unfurls[stored_url]) and ARXIV_ONLY_TITLE in json.dumps(unfurls[fetched_url])
    for unfurl in unfurls.values():
        actions = [e["action_id"] for b in unfurl["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert actions == [MARK_READ, SAVE_PAPER, OPEN_PDF]
    stored_text = json.dumps(unfurls[stored_url])
    assert "hep-th, gr-qc" in stored_text and "v2" in stored_text and "1999-01-04" in stored_text
    assert fake_slack.live_markup() == []  # an author named <!channel> stays inert
    assert len(fake_arxiv.requests) == 1
    share(server, fetched_url, event_id="Ev2")  # stored now: no second arXiv request
    assert len(fake_slack.wait_for("chat.unfurl", 2)) == 2
    assert len(fake_arxiv.requests) == 1


@pytest.mark.parametrize("url", [
    f"https://arxiv.org/abs/{ARXIV_ONLY}", f"http://arxiv.org/abs/{ARXIV_ONLY}v2", f"https://arxiv.org/pdf/{ARXIV_ONLY}",
    f"https://arxiv.org/html/{ARXIV_ONLY}v1", f"https://www.arxiv.org/abs/{ARXIV_ONLY}?context=cs",
])
def test_every_link_form_unfurls(server, fake_slack, url):
    share(server, url)
    [call] = fake_slack.wait_for("chat.unfurl")
    assert ARXIV_ONLY_TITLE in json.dumps(unfurls_of(call)[url])


def test_arxiv_unreachable_means_no_unfurl_and_nothing_in_the_channel(server, fake_slack, fake_arxiv, caplog):
    fake_arxiv.stop()
    caplog.set_level(logging.WARNING, logger="bot.unfurls")
    share(server, f"https://arxiv.org/abs/{ARXIV_ONLY}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and "arXiv unavailable" not in caplog.text:
        time.sleep(0.1)
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.unfurls"]  # one log line
    assert line.startswith(f"no unfurl for {ARXIV_ONLY}: arXiv unavailable")
    assert fake_slack.calls_to("chat.unfurl", ok=None) == []
    assert fake_slack.calls_to("chat.postMessage", ok=None) == []
    assert fake_slack.calls_to("chat.postEphemeral", ok=None) == []


def test_links_that_name_no_paper_are_left_alone(server, fake_slack):
    share(server, "https://arxiv.org/list/cs.LG/recent", "https://arxiv.org/abs/2513.99999")
    time.sleep(1)
    assert fake_slack.calls_to("chat.unfurl", ok=None) == []


def test_ids_in_message_text_every_form_once_each():
    text = ("see <https://arxiv.org/abs/2503.14881v2|this> and <https://arxiv.org/pdf/hep-th/9901001.pdf> "
            "also arXiv:2503.14881 and https://arxiv.org/html/2503.15465v1 — not 2513.99999")
    assert arxiv_ids_in_text(text) == ["2503.14881", "hep-th/9901001", "2503.15465"]


def test_the_fixture_paper_is_in_the_fake_arxiv():
    assert ARXIV_ONLY in {entry.arxiv_id for entry in load_entries()}
