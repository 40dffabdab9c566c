"""The For you, similar and popular renderers: escaped paper text, Slack's limits, the "why" line, More."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.recommend import (
    ForYouPage,
    PopularPage,
    PopularPaper,
    Recommendation,
    SimilarPage,
    SimilarPaper,
)
from bot.render_blocks import recommend as blocks
from bot.render_blocks.mrkdwn import MAX_BLOCKS_VIEW
from db.records import PaperRecord

WHEN = datetime(2025, 3, 19, 12, 0, tzinfo=UTC)
HOSTILE = "<!channel> & <@U123> <https://evil.example|click> *bold* `code` " + "é&<>" * 400


def paper(n: int, *, title: str = "KV cache eviction, per layer", authors=("Ada Lovelace",)) -> PaperRecord:
    return PaperRecord(arxiv_id=f"2503.{10000 + n}", version=1, title=title, abstract="An abstract.",
                       authors=tuple(authors), primary_category="cs.LG", categories=("cs.LG",), published=WHEN,
                       updated=WHEN)


def hostile_paper(n: int) -> PaperRecord:
    return paper(n, title=HOSTILE, authors=[HOSTILE] * 200)


def page_of(items, *, cold_start=False, total=None, offset=0, filters="") -> ForYouPage:
    return ForYouPage(items=tuple(items), offset=offset, limit=len(items), total=total or len(items),
                      cold_start=cold_start, window_start=WHEN - timedelta(days=30), window_end=WHEN, filters=filters)


def walk(value):
    if isinstance(value, dict):
        yield value
        for inner in value.values():
            yield from walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk(inner)


def assert_within_slack_limits(message_blocks: list[dict], *, max_blocks: int = 50) -> None:
    assert len(message_blocks) <= max_blocks
    for node in walk(message_blocks):
        if node.get("type") == "mrkdwn":
            assert len(node["text"]) <= 3000
            assert "<!channel>" not in node["text"] and "<@U123>" not in node["text"]
            assert "<https://evil.example" not in node["text"]
        if node.get("type") == "button":
            assert len(node["text"]["text"]) <= 75 and len(node["value"]) <= 2000
            assert len(node["action_id"]) <= 255
        if "block_id" in node:
            assert len(node["block_id"]) <= 255
        if node.get("type") == "context":
            assert len(node["elements"]) <= 10


def test_the_why_line_names_the_read_paper_it_is_like_escaped():
    item = Recommendation(paper=paper(1), score=0.3, because=paper(2, title="Exploring <KV> & limits"),
                          readers=0, topic_match=False)

    assert blocks.why_line(item) == "like *Exploring &lt;KV&gt; &amp; limits*, which you read"


def test_the_why_line_without_reads_says_topic_and_how_many_read_it_never_who():
    topical = Recommendation(paper=paper(1), score=0.3, because=None, readers=3, topic_match=True)
    popular = Recommendation(paper=paper(1), score=0.3, because=None, readers=1, topic_match=False)

    assert blocks.why_line(topical) == "matches your channel's topic · read by 3 people here lately"
    assert blocks.why_line(popular) == "read by 1 person here lately"


def test_for_you_shows_each_paper_with_why_and_its_buttons_and_more_while_there_are_others():
    items = [Recommendation(paper=paper(n), score=1 - n / 10, because=paper(99), readers=0, topic_match=False)
             for n in range(5)]

    message = blocks.foryou_message(page_of(items, total=12))

    assert message["response_type"] == "ephemeral"
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    assert texts[0].startswith("*For you* · 1–5 of 12")
    contexts = [b["elements"][0]["text"] for b in message["blocks"] if b["type"] == "context"]
    assert contexts == ["like *KV cache eviction, per layer*, which you read"] * 5
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions[0]["elements"]] == ["paper_mark_read", "paper_open_pdf",
                                                                "paper_more_like_this"]
    assert actions[-1]["elements"][0]["action_id"] == blocks.FORYOU_MORE
    assert blocks.parse_foryou_more_value(actions[-1]["elements"][0]["value"]) == ("", 5)


def test_a_cold_start_says_how_the_list_learns():
    item = Recommendation(paper=paper(1), score=0.1, because=None, readers=2, topic_match=True)

    message = blocks.foryou_message(page_of([item], cold_start=True))
    home = blocks.foryou_home_blocks(page_of([item], cold_start=True))
    dm = blocks.foryou_dm_message(page_of([item], cold_start=True))

    for rendered in (message["blocks"], home, dm["blocks"]):
        assert any(blocks.LEARNS_HINT in node.get("text", "") for node in walk(rendered) if node.get("type")
                   == "mrkdwn")


@pytest.mark.parametrize("render", [
    lambda items: blocks.foryou_message(page_of(items, total=40, filters=HOSTILE[:300]))["blocks"],
    lambda items: blocks.foryou_dm_message(page_of(items))["blocks"],
    lambda items: blocks.similar_message(SimilarPage(paper=hostile_paper(0), window_start=WHEN, items=tuple(
        SimilarPaper(paper=i.paper, score=0.5) for i in items)))["blocks"],
    lambda items: blocks.popular_message(PopularPage(window="week", since=WHEN, items=tuple(
        PopularPaper(paper=i.paper, readers=3, last_read_at=WHEN) for i in items)))["blocks"],
])
def test_hostile_paper_text_is_escaped_and_every_message_stays_within_slack_limits(render):
    items = [Recommendation(paper=hostile_paper(n), score=0.5, because=hostile_paper(99), readers=4,
                            topic_match=True) for n in range(10)]

    assert_within_slack_limits(render(items))


def test_the_home_sections_fit_the_home_view_with_room_to_spare():
    items = [Recommendation(paper=hostile_paper(n), score=0.5, because=hostile_paper(99), readers=4,
                            topic_match=True) for n in range(10)]
    popular = PopularPage(window="week", since=WHEN, items=tuple(
        PopularPaper(paper=hostile_paper(n), readers=n + 1, last_read_at=WHEN) for n in range(10)))

    home = blocks.foryou_home_blocks(page_of(items)) + blocks.popular_home_blocks(popular)

    assert_within_slack_limits(home, max_blocks=MAX_BLOCKS_VIEW // 4)
    assert sum(1 for b in home if b.get("accessory", {}).get("action_id") == "paper_mark_read") == 10


def test_popular_shows_counts_only():
    page = PopularPage(window="month", since=WHEN, items=(PopularPaper(paper=paper(1), readers=2, last_read_at=WHEN),))

    message = blocks.popular_message(page)

    assert "last 30 days" in message["blocks"][0]["text"]["text"]
    assert "*2* readers" in message["blocks"][1]["text"]["text"]
    assert "<@" not in str(message)


def test_empty_lists_say_so_in_words():
    assert "Nothing unread" in blocks.foryou_message(page_of([]))["text"]
    assert "No recent papers" in blocks.similar_message(SimilarPage(paper=paper(1), items=(), window_start=None))[
        "text"]
    assert "Nobody here" in blocks.popular_message(PopularPage(window="week", since=WHEN, items=()))["text"]


@pytest.mark.parametrize("value", [None, "", "nope", '{"f": 3, "o": 1}', '{"f": "", "o": -1}', '{"f": ""}',
                                   '{"f": "", "o": 99999}'])
def test_a_tampered_more_value_is_refused(value):
    assert blocks.parse_foryou_more_value(value) is None


def test_a_more_value_round_trips_the_filters():
    value = blocks.foryou_more_value("cat:cs.CL pruning", 10)

    assert blocks.parse_foryou_more_value(value) == ("cat:cs.CL pruning", 10)
    assert blocks.foryou_more_value("x" * 3000, 10) == ""
