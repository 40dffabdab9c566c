"""The digest people read (issue 12), posted to the fake Slack from the seed day plus the odd papers fixture:
the parent leads with the best papers in under 3,000 visible characters, the whole digest skims in under 40,000,
every paper's Abstract button shows its whole abstract to the clicker, and no raw LaTeX, formatting leak or
withdrawn paper reaches the channel."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from bot import digest, ingest
from bot.app import build_digest_poster
from bot.config import DEFAULT_KEYWORDS
from bot.paper_text import readable
from bot.render_blocks.mrkdwn import inert, visible_text
from bot.topics import find_spans
from tests.conftest import FIXTURES, SEED_FEED
from tests.digest.test_digest_blocks import visible_length
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, post

DAY = date(2025, 3, 21)
ODD_FEED = FIXTURES / "odd_papers.atom.xml"
WITHDRAWN = "2503.19003"
_LABEL = re.compile(r"<https://arxiv\.org/abs/[^|<>]+\|([^<>]*)>")


def messages(fake_slack) -> list[dict]:
    found = []
    for call in fake_slack.calls_to("chat.postMessage"):
        blocks = call.args["blocks"]
        found.append({**call.args, "blocks": json.loads(blocks) if isinstance(blocks, str) else blocks})
    return found


@pytest.fixture
def posted(store, slack_settings, fake_slack) -> list[dict]:
    for feed in (SEED_FEED, ODD_FEED):
        ingest.ingest_feed_file(store.session_factory, Path(feed))
    report = digest.post_digest(store.session_factory, build_digest_poster(slack_settings), slack_settings,
                                team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY, pace_seconds=0)
    assert report.status == "posted" and report.errors == []
    assert [c for c in fake_slack.calls if not c.ok] == []  # every Slack limit kept
    return messages(fake_slack)


def test_the_parent_leads_with_topic_words_in_titles_within_3000_visible_characters(posted):
    parent = posted[0]
    assert visible_length(parent) <= 3000
    listed = _LABEL.findall(json.dumps(parent["blocks"], ensure_ascii=False).replace('\\"', '"'))
    assert len(listed) == 10
    assert all(find_spans(inert(title), DEFAULT_KEYWORDS) for title in listed[:5]), listed[:5]
    assert "more in the thread" in json.dumps(parent["blocks"])


def test_the_whole_digest_skims_in_under_40000_visible_characters(posted):
    assert sum(visible_length(message) for message in posted) <= 40_000
    assert len(posted) <= 12


def test_no_raw_latex_no_formatting_leak_and_no_withdrawn_paper(posted):
    sent = json.dumps([m["blocks"] for m in posted], ensure_ascii=False)
    for raw in (r"\\mathcal", r"\\textbf", r"\\emph", r"$\\", "$k$"):
        assert raw not in sent
    assert "𝒪(n^2)-Free Sparse Attention with Top-k KV Cache Pruning" in sent
    for label in _LABEL.findall(sent.replace('\\"', '"')):
        assert not set(label) & set("*_~`"), label  # a title never bolds, italicises or strikes itself
    assert "Sparse ∗Attention∗" in sent
    assert WITHDRAWN not in sent and "withdrawn" not in sent.lower()
    assert "v2 · updated" in sent


def test_every_paper_has_an_abstract_button_that_shows_its_whole_abstract(posted, store, slack_server, fake_slack):
    buttons = [e for m in posted[1:] for b in m["blocks"] if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == "paper_show_abstract"]
    ids = [b["value"] for b in buttons]
    assert len(ids) == len(set(ids)) == sum(1 for m in posted[1:] for b in m["blocks"] if b["type"] == "section")
    papers = {p.arxiv_id: p for p in _stored(store, ids)}
    for index, arxiv_id in enumerate(ids):
        action = {"type": "button", "action_id": "paper_show_abstract", "value": arxiv_id,
                  "block_id": f"digest:{arxiv_id}", "action_ts": f"1700000{index:03d}.000100"}
        body = block_actions_body(action, response_url=fake_slack.response_url(f"abstract-{arxiv_id}"),
                                  container={"type": "message", "message_ts": "1700000000.000300",
                                             "channel_id": "C0DIGEST", "thread_ts": "1700000000.000200"})
        assert post(f"{slack_server}/slack/events", body).status_code == 200
    replies = {c.path.removeprefix("/response/abstract-"): c.args
               for c in fake_slack.wait_for("response_url", len(ids), timeout=60)}
    assert set(replies) == set(ids)
    for arxiv_id, reply in replies.items():
        assert reply["response_type"] == "ephemeral" and reply.get("replace_original") is False
        shown = " ".join(visible_text(b["text"]["text"]) for b in reply["blocks"] if b["type"] == "section")
        assert inert(readable(papers[arxiv_id].abstract)) in shown.replace("\n", " ")


def _stored(store, ids):
    from db import papers as paper_store

    with store.session_factory.begin() as session:
        return list(paper_store.get_papers(session, ids).values())
