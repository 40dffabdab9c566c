"""Digest messages stay inside Slack's limits and never carry a live mention, whatever the papers hold."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.digest import PAPERS_PER_REPLY, Digest, DigestEntry
from bot.render_blocks.digest import digest_parent_message, digest_reply_message, empty_digest_message
from bot.render_blocks.mrkdwn import visible_text
from bot.topics import Topic
from db.records import PaperRecord

KEYWORDS = ("sparse", "KV cache", "pruning")
# Text rich in what Slack would parse or what escaping grows: mentions, links, entities.
hostile = st.text(alphabet=st.sampled_from(list("<>&|*_~`!@#abc Sparse KV-cache\n")) | st.characters(), max_size=400)


@st.composite
def papers(draw):
    when = datetime(2025, 3, 20, tzinfo=UTC)
    title = draw(st.one_of(hostile, st.just("<!channel> Sparse <@U123>"))).strip() or "t"
    abstract = draw(st.text(alphabet=st.sampled_from(list("<>&sparse KV cache pruning ")), max_size=1920)) or "a"
    authors = tuple(draw(st.lists(hostile, min_size=0, max_size=120)))
    arxiv_id = f"2503.{draw(st.integers(0, 99_999)):05d}"
    return PaperRecord(arxiv_id=arxiv_id, version=1, title=title[:300], abstract=abstract,
                       authors=authors, primary_category="cs.LG", categories=("cs.LG", "<!here>"),
                       published=when, updated=when)


def check_limits(message: dict) -> None:
    assert message["text"] and len(message["text"]) <= 40_000
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "context":
            assert len(block["elements"]) <= 10
        for element in block.get("elements", []):
            if element.get("type") == "button":
                assert len(element["text"]["text"]) <= 75 and len(element["value"]) <= 2000
        assert len(block.get("block_id", "")) <= 255
    sent = json.dumps(message)
    for live in ("<!", "<@", "<#"):
        assert live not in sent


@settings(max_examples=60, deadline=None)
@given(st.lists(papers(), min_size=1, max_size=PAPERS_PER_REPLY, unique_by=lambda p: p.arxiv_id))
def test_a_reply_of_any_papers_fits_slack(batch):
    entries = [DigestEntry(p, ("sparse",)) for p in batch]
    check_limits(digest_reply_message(entries, KEYWORDS))


@settings(max_examples=30, deadline=None)
@given(st.lists(papers(), min_size=1, max_size=300, unique_by=lambda p: p.arxiv_id))
def test_the_parent_of_any_digest_fits_slack_and_names_at_most_ten_papers(batch):
    entries = tuple(DigestEntry(p, KEYWORDS[: 1 + i % 3]) for i, p in enumerate(batch))
    message = digest_parent_message(Digest("C1", date(2025, 3, 21), Topic(KEYWORDS), entries), papers_per_reply=5)
    check_limits(message)
    assert f"{len(batch)} new paper" in message["text"]
    lines = [line for b in message["blocks"][2:] if b["type"] == "section" for line in b["text"]["text"].split("\n")]
    listed = sum(1 for line in lines if re.match(r"\d+\. <https://arxiv\.org/abs/", line))
    assert listed == min(10, len(batch))
    footer = json.dumps(message["blocks"][-1])
    assert (f"{len(batch) - 10} more in the thread" in footer) if len(batch) > 10 else "Every paper" in footer
    assert visible_length(message) <= 3000


def test_the_empty_note_is_one_line():
    message = empty_digest_message(date(2025, 3, 22))
    check_limits(message)
    assert "\n" not in message["text"] and "2025-03-22" in message["text"]


def test_a_huge_digest_leads_with_ten_papers_and_says_how_many_more():
    when = datetime(2025, 3, 20, tzinfo=UTC)
    batch = [PaperRecord(arxiv_id=f"2503.{i:05d}", version=1, title="Sparse & <long> title " * 10, abstract="a",
                         authors=("A",), primary_category="cs.LG", categories=("cs.LG",), published=when,
                         updated=when) for i in range(500)]
    entries = tuple(DigestEntry(p, ("sparse",)) for p in batch)
    message = digest_parent_message(Digest("C1", date(2025, 3, 21), Topic(KEYWORDS), entries), papers_per_reply=5)
    check_limits(message)
    assert "490 more in the thread" in json.dumps(message["blocks"][-1])
    assert visible_length(message) <= 3000


def visible_length(message: dict) -> int:
    """The characters a reader sees: section and context text (links as their labels), headers, button labels."""
    count = 0
    for block in message["blocks"]:
        if block["type"] == "header":
            count += len(block["text"]["text"])
        elif block["type"] == "section":
            count += len(visible_text(block["text"]["text"]))
        elif block["type"] == "context":
            count += sum(len(visible_text(e.get("text", ""))) for e in block["elements"])
        elif block["type"] == "actions":
            count += sum(len(e["text"]["text"]) for e in block["elements"] if e.get("type") == "button")
    return count
