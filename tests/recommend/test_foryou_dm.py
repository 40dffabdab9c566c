"""The opt-in morning For you DM (issue 13): `/papers dm on|off` through the HTTP server, and the scheduled job's
DM after the channel digests: the subscriber's top new papers, never one they read, never one sent before."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from bot import reading
from bot.app import build_digest_poster, build_scheduler
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ
from bot.topics import Topic
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.reading.test_reading_commands import papers
from tests.recommend.test_recommend import KV_CACHE_FIELD, KV_READS


def dm_ids(call) -> list[str]:
    blocks = call.args["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return [b["accessory"]["value"] for b in blocks if b.get("accessory", {}).get("action_id") == MARK_READ]


def test_dm_on_off_and_status_through_the_server(slack_server, fake_slack):
    assert "*off*" in papers(slack_server, fake_slack, "dm")["text"]
    assert "*on*" in papers(slack_server, fake_slack, "dm on")["text"]
    assert "*on*" in papers(slack_server, fake_slack, "dm")["text"]
    assert "takes `on` or `off`" in papers(slack_server, fake_slack, "dm maybe")["text"]
    assert "*off*" in papers(slack_server, fake_slack, "dm off")["text"]
    assert "`/papers dm on`" in json.dumps(papers(slack_server, fake_slack, "help"))


def test_the_morning_dm_sends_new_papers_once_and_never_a_read_one(slack_server, store, fake_slack, slack_settings):
    ingest_feed_file(store.session_factory, SEED_FEED)
    for arxiv_id in KV_READS:
        reading.mark_read(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id,
                          source="button")
    papers(slack_server, fake_slack, "dm on")  # U0ALICE asks; U0BOB does not
    settings = dataclasses.replace(slack_settings, digest_keywords=Topic(("KV cache",)).keywords)
    scheduler = build_scheduler(settings, dataclasses.replace(store), blocking=False)
    job = scheduler.get_job("daily-digest").func.workspace_jobs()[0]  # the token's workspace
    job = dataclasses.replace(job, arxiv=None, pace_seconds=0, poster=build_digest_poster(settings),
                              clock=lambda: datetime(2025, 3, 21, 10, 0, tzinfo=UTC))

    job()
    dms = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"].startswith("D")]
    assert [c.args["channel"] for c in dms] == ["D0U0ALICE"]
    first = dm_ids(dms[0])
    assert len(first) == 5 and not set(first) & set(KV_READS)
    assert len(set(first) & KV_CACHE_FIELD) >= 4, first  # their own field, as /papers foryou

    job()  # the next run (a retry, or the next morning with nothing new): never the same paper twice
    dms = [c for c in fake_slack.calls_to("chat.postMessage") if c.args["channel"].startswith("D")]
    later = [paper for call in dms[1:] for paper in dm_ids(call)]
    assert not set(later) & set(first) and not set(later) & set(KV_READS)
