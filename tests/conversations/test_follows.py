"""Follows with DM alerts: `/papers follow|follows|unfollow` through the HTTP server, and the daily DM through
the fake Slack: only papers new since the follow, most relevant first, never twice, never one already read."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from bot import cli, follows, reading, search
from bot.app import build_digest_poster
from bot.ingest import ingest_feed_file, ingest_records
from bot.render_blocks.common import MARK_READ, SAVE_PAPER
from bot.render_blocks.follows import UNFOLLOW
from bot.scheduler import DigestJob
from bot.topics import Topic
from db.records import PaperRecord
from handlers.dms import send_follow_alerts
from handlers.web_client import build_web_client
from tests.conftest import SEED_FEED
from tests.conversations.test_saved import papers
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, post

OLD_KV = PaperRecord(
    arxiv_id="2401.00001", version=1, title="An Older KV Cache Paper", abstract="KV cache eviction for LLMs. It works.",
    authors=("Old Author",), primary_category="cs.CL", categories=("cs.CL",),
    published=datetime(2025, 3, 18, tzinfo=UTC), updated=datetime(2025, 3, 18, tzinfo=UTC))


def dm_ids(call) -> list[str]:
    blocks = call.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == MARK_READ]


def dm_text(call) -> str:
    return json.dumps(call.args["blocks"]) if not isinstance(call.args["blocks"], str) else call.args["blocks"]


def test_a_follower_gets_one_dm_with_the_new_papers_only_and_none_the_next_day(slack_server, store, fake_slack,
                                                                               slack_settings):
    ingest_records(store.session_factory, [OLD_KV])  # stored before the follow: never alerted
    assert "Following `kv cache`" in papers(slack_server, fake_slack, "follow kv cache")["text"]
    ingest_feed_file(store.session_factory, SEED_FEED)  # the fetch
    client = build_web_client(slack_settings)
    page = search.run_search(store.session_factory, query="kv cache", limit=100)
    expected = [hit.paper.arxiv_id for hit in page.hits if hit.paper.arxiv_id != OLD_KV.arxiv_id]
    assert expected and len(expected) < page.total + 1

    report = send_follow_alerts(client, store.session_factory, team_id=TEAM_ID)
    assert (report.sent, report.skipped) == (1, 0)
    [opened] = fake_slack.calls_to("conversations.open")
    assert opened.args["users"] == "U0ALICE"
    [dm] = fake_slack.calls_to("chat.postMessage")
    assert dm.args["channel"] == "D0U0ALICE"
    shown = dm_ids(dm)
    assert shown == expected[:10]  # most relevant first, at most 10
    assert f"*{len(expected)} new papers match" in dm_text(dm)
    if len(expected) > 10:
        assert f"and {len(expected) - 10} more" in dm_text(dm) and "/papers follows" in dm_text(dm)
    assert OLD_KV.arxiv_id not in dm_text(dm)
    assert fake_slack.live_markup() == []
    actions = {e["action_id"] for b in dm.args["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert actions == {MARK_READ, SAVE_PAPER}

    # The next day: a new fetch of the same papers, and the job again: nothing new, no DM.
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert send_follow_alerts(client, store.session_factory, team_id=TEAM_ID).sent == 0
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_a_paper_already_read_is_not_sent(slack_server, store, fake_slack, slack_settings):
    follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query="kv cache")
    ingest_feed_file(store.session_factory, SEED_FEED)
    page = search.run_search(store.session_factory, query="kv cache", limit=100)
    best = page.hits[0].paper.arxiv_id
    reading.mark_read(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=best, source="button")
    send_follow_alerts(build_web_client(slack_settings), store.session_factory, team_id=TEAM_ID)
    [dm] = fake_slack.calls_to("chat.postMessage")
    assert best not in dm_ids(dm)


def test_a_user_who_cannot_be_messaged_is_skipped_with_a_log_line(slack_server, store, fake_slack, slack_settings,
                                                                  caplog):
    for user in ("U0GONE", "U0ALICE"):
        follows.follow(store.session_factory, team_id=TEAM_ID, user_id=user, query="kv cache")
    ingest_feed_file(store.session_factory, SEED_FEED)
    fake_slack.faults["conversations.open"] = ["user_not_found"]  # the first user in id order: U0ALICE
    caplog.set_level(logging.WARNING, logger="handlers.dms")
    report = send_follow_alerts(build_web_client(slack_settings), store.session_factory, team_id=TEAM_ID)
    assert (report.sent, report.skipped) == (1, 1)
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.dms"] == [
        "follow alert DM to U0ALICE skipped: user_not_found"]
    # The skipped user's papers stay unsent: the next run sends them.
    assert send_follow_alerts(build_web_client(slack_settings), store.session_factory, team_id=TEAM_ID).sent == 1


def test_author_follows_say_names_can_be_ambiguous(slack_server, store, fake_slack, slack_settings):
    ingest_feed_file(store.session_factory, SEED_FEED)
    author = search.run_search(store.session_factory, query="kv cache", limit=1).hits[0].paper.authors[0]
    reply = papers(slack_server, fake_slack, f'follow author:"{author}"')
    assert "ambiguous" in reply["text"]
    assert follows.follows_of(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE")[0].query.startswith("author:")


@pytest.mark.parametrize("query", ["the", "cat:cs", "since:2025-03-01", "-survey", ""])
def test_a_follow_that_would_match_everything_is_refused_with_a_hint(slack_server, fake_slack, store, query):
    reply = papers(slack_server, fake_slack, f"follow {query}".strip())
    assert reply["response_type"] == "ephemeral" and "`" in reply["text"]
    assert follows.follows_of(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE") == []


def test_at_most_twenty_follows_and_the_list_and_unfollow(slack_server, fake_slack, store):
    for n in range(follows.MAX_FOLLOWS):
        follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query=f"topic{n} cache")
    assert "most there can be" in papers(slack_server, fake_slack, "follow cat:cs.AR quantization")["text"]
    listing = papers(slack_server, fake_slack, "follows")
    removes = [b["accessory"] for b in listing["blocks"] if b.get("accessory", {}).get("action_id") == UNFOLLOW]
    assert len(removes) == follows.MAX_FOLLOWS
    assert "Stopped following `topic1 cache`" in papers(slack_server, fake_slack, "unfollow 2")["text"]
    assert "Stopped following `topic5 cache`" in papers(slack_server, fake_slack, "unfollow topic5 cache")["text"]
    # Remove in the list redraws it without that follow.
    action = {"action_id": UNFOLLOW, "type": "button", "value": removes[0]["value"], "block_id": "follow:1",
              "text": {"type": "plain_text", "text": "Remove"}}
    body = block_actions_body(action, response_url=fake_slack.response_url("follows"))
    assert post(f"{slack_server}/slack/events", body).status_code == 200
    redraw = fake_slack.wait_for("response_url", 5)[-1].args
    assert redraw["replace_original"] is True and "(17 of 20)" in json.dumps(redraw["blocks"])
    left = [f.query for f in follows.follows_of(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE")]
    assert "topic0 cache" not in left and len(left) == 17


def test_help_lists_the_follow_commands(slack_server, fake_slack):
    text = papers(slack_server, fake_slack, "help")["blocks"][0]["text"]["text"]
    assert "/papers follow " in text and "/papers follows" in text and "/papers unfollow" in text


def test_follows_made_after_the_fetch_wait_for_the_next_papers(store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query="kv cache",
                   now=datetime.now(UTC) + timedelta(seconds=1))
    assert follows.gather_alerts(store.session_factory, team_id=TEAM_ID,
                                 now=datetime.now(UTC) + timedelta(seconds=2)) == 0


def test_the_scheduled_job_sends_the_dms_right_after_the_channel_digests(store, fake_slack, slack_settings):
    follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query="kv cache")
    ingest_feed_file(store.session_factory, SEED_FEED)
    settings = dataclasses.replace(slack_settings, digest_keywords=Topic(("KV cache",)).keywords)
    job = DigestJob(team_id=TEAM_ID, settings=settings, factory=store.session_factory,
                    poster=build_digest_poster(settings),
                    arxiv=None, pace_seconds=0, clock=lambda: datetime(2025, 3, 21, 10, 0, tzinfo=UTC),
                    send_alerts=partial(send_follow_alerts, build_web_client(settings), store.session_factory,
                                        team_id=TEAM_ID))
    job()
    posts = [c.args["channel"] for c in fake_slack.calls_to("chat.postMessage")]
    assert posts[-1] == "D0U0ALICE" and "C0DIGEST" in posts[:-1]
    job()  # a rerun (catch-up, retry) sends nothing twice
    assert [c.args["channel"] for c in fake_slack.calls_to("chat.postMessage")].count("D0U0ALICE") == 1


def test_papers_bot_alerts_sends_only_the_dms(store, fake_slack, slack_env):
    follows.follow(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", query="kv cache")
    ingest_feed_file(store.session_factory, SEED_FEED)
    assert cli.main(["alerts", "--date", "2020-01-01"]) == 0  # papers stored later than that day: none yet
    assert fake_slack.calls_to("chat.postMessage") == []
    assert cli.main(["alerts"]) == 0
    assert [c.args["channel"] for c in fake_slack.calls_to("chat.postMessage")] == ["D0U0ALICE"]
