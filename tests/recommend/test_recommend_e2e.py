"""Issue 13 end to end through the HTTP server: `/papers foryou`, `similar`, `popular`, More like this and the App
Home's For you and Most read sections, as Slack users would use them."""

from __future__ import annotations

import json
import re

import pytest

from bot import reading
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.reading.test_home import open_home
from tests.reading.test_reading_commands import papers
from tests.recommend.test_recommend import KV_CACHE_FIELD, KV_READS, TOKEN_PRUNING_FIELD, TOKEN_PRUNING_READS
from tests.slack_requests import block_actions_body, post

_ABS = re.compile(r"<https://arxiv\.org/abs/([\w./-]+?)v\d+\|")


@pytest.fixture
def server(slack_server, store, fake_slack):
    ingest_feed_file(store.session_factory, SEED_FEED)
    fake_slack.user_channels = {"U0KV": ["C0DIGEST"], "U0PRUNE": ["C0DIGEST"]}
    return slack_server


def read_all(store, user: str, ids) -> None:
    for arxiv_id in ids:
        reading.mark_read(store.session_factory, team_id=TEAM_ID, user_id=user, arxiv_id=arxiv_id, source="button")


def listed(reply: dict) -> list[str]:
    """The papers a reply lists, in order (each title links to its abstract page once)."""
    sections = [b["text"]["text"] for b in reply["blocks"][1:] if b["type"] == "section"]
    return [m for text in sections for m in _ABS.findall(text)[:1]]


def test_each_reader_gets_their_own_field_first_and_never_a_paper_they_read(server, store, fake_slack):
    read_all(store, "U0KV", KV_READS)
    read_all(store, "U0PRUNE", TOKEN_PRUNING_READS)
    kv = listed(papers(server, fake_slack, "foryou", user_id="U0KV"))[:5]
    pruning = listed(papers(server, fake_slack, "foryou", user_id="U0PRUNE"))[:5]
    assert len(kv) == len(pruning) == 5
    assert len(set(kv) & KV_CACHE_FIELD) >= 4, kv
    assert len(set(pruning) & TOKEN_PRUNING_FIELD) >= 4, pruning
    assert not set(kv) & set(KV_READS) and not set(pruning) & set(TOKEN_PRUNING_READS)
    reply = json.dumps(papers(server, fake_slack, "foryou", user_id="U0KV"))
    assert "which you read" in reply  # why each one is there


def test_similar_to_a_kv_cache_paper_is_mostly_kv_cache_and_popular_counts_distinct_readers(server, store,
                                                                                          fake_slack):
    similar = listed(papers(server, fake_slack, "similar https://arxiv.org/abs/2503.14881"))
    assert similar and "2503.14881" not in similar
    assert len(set(similar) & KV_CACHE_FIELD) >= len(similar) // 2 + 1, similar
    read_all(store, "U0KV", ["2503.14881", "2503.12491"])
    read_all(store, "U0PRUNE", ["2503.14881"])
    reply = papers(server, fake_slack, "popular week")
    assert listed(reply)[:2] == ["2503.14881", "2503.12491"]
    text = json.dumps(reply)
    assert "*2* readers" in text and "U0KV" not in text and "U0PRUNE" not in text  # counts only, never who


def test_more_like_this_answers_the_clicker_only(server, fake_slack):
    action = {"type": "button", "action_id": "paper_more_like_this", "value": "2503.12491", "block_id": "digest:x",
              "action_ts": "1700000000.000900"}
    body = block_actions_body(action, response_url=fake_slack.response_url("like"))
    assert post(f"{server}/slack/events", body).status_code == 200
    [reply] = [c.args for c in fake_slack.wait_for("response_url") if c.path.endswith("/like")]
    assert reply["response_type"] == "ephemeral" and reply.get("replace_original") is False
    assert len(set(listed(reply)) & KV_CACHE_FIELD) >= 3


def test_the_app_home_has_for_you_above_the_digest_papers_and_most_read_this_week(server, store, fake_slack):
    read_all(store, "U0KV", KV_READS)
    view = open_home(server, fake_slack, user_id="U0KV")
    texts = [b.get("text", {}).get("text", "") for b in view["blocks"]]
    foryou = texts.index("*For you*")
    assert foryou < next(i for i, t in enumerate(texts) if t.startswith("*From the last"))
    assert "*Most read this week*" in texts
    ids = [b["accessory"]["value"] for b in view["blocks"] if b.get("block_id", "").startswith("foryou_home:")]
    assert len(ids) == 5 and not set(ids) & set(KV_READS) and len(set(ids) & KV_CACHE_FIELD) >= 4
