"""Two workspaces with the same channel id and the same user id never see each other's data: topics, the digest
ledger, reads, saved papers, follows, the Home, search's `is:unread`, For you and popular. Slack channel and user ids
are only unique within a workspace, so every row is keyed by its team too."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import follows, ingest, reading, recommend, saved, search
from bot.app import Services, build_digest_poster
from bot.channel_topics import channel_topic, digest_channels
from bot.digest import post_digest
from bot.topics import Topic
from handlers.topic import topic_command
from tests.conftest import SEED_FEED

DAY = date(2025, 3, 21)
T1, T2 = "T0LABONE", "T0LABTWO"
CHANNEL, USER, ADMIN = "C0SHARED", "U0SAMEID", "U0ADMIN"
KV_PAPER = "2503.15465"


@pytest.fixture
def seeded(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    return store


def set_topic(store, settings, fake_slack, *, team_id: str, args: str) -> dict:
    fake_slack.users[ADMIN] = {"is_admin": True}
    command = {"team_id": team_id, "channel_id": CHANNEL, "user_id": ADMIN}
    return topic_command(Services(settings=settings, store=store), command, args)


def test_a_topic_set_in_one_workspace_is_not_the_other_workspaces_same_channel(seeded, slack_settings, fake_slack):
    set_topic(seeded, slack_settings, fake_slack, team_id=T1, args="set KV cache")

    assert channel_topic(seeded.session_factory, slack_settings, CHANNEL, team_id=T1)[0].keywords == ("KV cache",)
    topic, source = channel_topic(seeded.session_factory, slack_settings, CHANNEL, team_id=T2)
    assert source == "environment" and topic.keywords == slack_settings.digest_keywords
    shown = set_topic(seeded, slack_settings, fake_slack, team_id=T2, args="")
    assert "workspace default" in shown["text"]
    with seeded.session_factory.begin() as session:
        assert CHANNEL in digest_channels(session, slack_settings, team_id=T1)
        assert CHANNEL not in digest_channels(session, slack_settings, team_id=T2)

    set_topic(seeded, slack_settings, fake_slack, team_id=T2, args="set pruning")
    set_topic(seeded, slack_settings, fake_slack, team_id=T2, args="reset")
    assert channel_topic(seeded.session_factory, slack_settings, CHANNEL, team_id=T1)[0].keywords == ("KV cache",)


def test_a_paper_posted_in_one_workspaces_channel_is_still_new_to_the_other_workspaces_same_channel(
        seeded, slack_settings, fake_slack):
    poster = build_digest_poster(slack_settings)
    first = post_digest(seeded.session_factory, poster, slack_settings, team_id=T1, channel=CHANNEL,
                        digest_date=DAY, pace_seconds=0)
    again = post_digest(seeded.session_factory, poster, slack_settings, team_id=T1, channel=CHANNEL,
                        digest_date=DAY + timedelta(days=1), pace_seconds=0)
    other = post_digest(seeded.session_factory, poster, slack_settings, team_id=T2, channel=CHANNEL,
                        digest_date=DAY, pace_seconds=0)

    assert first.status == "posted" and first.papers_posted == 65
    assert again.papers_posted == 0  # never twice in T1's channel
    assert other.status == "posted" and other.papers_posted == 65  # T1's ledger says nothing about T2's channel


def test_reads_saved_and_follows_of_the_same_user_id_stay_in_their_workspace(seeded):
    factory = seeded.session_factory
    reading.mark_read(factory, team_id=T1, user_id=USER, arxiv_id=KV_PAPER, source="button")
    saved.save_paper(factory, team_id=T1, user_id=USER, arxiv_id="2503.15436")
    follows.follow(factory, team_id=T1, user_id=USER, query="kv cache")

    assert [r.paper.arxiv_id for r in reading.history(factory, team_id=T1, user_id=USER).reads] == [KV_PAPER]
    assert reading.history(factory, team_id=T2, user_id=USER).reads == []
    assert saved.saved_list(factory, team_id=T2, user_id=USER).saved == []
    assert follows.follows_of(factory, team_id=T2, user_id=USER) == []
    assert len(follows.follows_of(factory, team_id=T1, user_id=USER)) == 1

    assert reading.mark_unread(factory, team_id=T2, user_id=USER, arxiv_id=KV_PAPER).was_read is False
    assert len(reading.history(factory, team_id=T1, user_id=USER).reads) == 1  # T2's unread removed nothing of T1


def test_follow_alerts_are_gathered_and_due_only_in_the_follows_workspace(seeded):
    factory = seeded.session_factory
    follows.follow(factory, team_id=T1, user_id=USER, query="kv cache", now=datetime(2000, 1, 1, tzinfo=UTC))
    assert follows.gather_alerts(factory, team_id=T2) == 0
    assert follows.pending_dms(factory, team_id=T2) == []
    assert follows.gather_alerts(factory, team_id=T1) > 0
    assert [dm.user_id for dm in follows.pending_dms(factory, team_id=T1)] == [USER]
    assert follows.pending_dms(factory, team_id=T2) == []


def test_the_home_lists_only_its_own_workspaces_digest_papers_and_reads(seeded, slack_settings, fake_slack):
    poster = build_digest_poster(slack_settings)
    post_digest(seeded.session_factory, poster, slack_settings, team_id=T1, channel=CHANNEL, digest_date=DAY,
                pace_seconds=0)
    reading.mark_read(seeded.session_factory, team_id=T1, user_id=USER, arxiv_id=KV_PAPER, source="button")

    mine = reading.home_summary(seeded.session_factory, team_id=T1, user_id=USER, channels={CHANNEL})
    theirs = reading.home_summary(seeded.session_factory, team_id=T2, user_id=USER, channels={CHANNEL})
    assert mine.digest_papers_posted == 65 and mine.unread_digest_total == 64 and mine.read_total == 1
    assert theirs.digest_papers_posted == 0 and theirs.unread_digest_papers == [] and theirs.read_total == 0


def test_search_unread_counts_only_the_askers_workspaces_reads(seeded):
    factory = seeded.session_factory
    best = search.run_search(factory, query="kv cache", limit=1).hits[0].paper.arxiv_id
    reading.mark_read(factory, team_id=T1, user_id=USER, arxiv_id=best, source="button")

    def unread_ids(team_id: str) -> set[str]:
        page = search.run_search(factory, query="kv cache is:unread", limit=50, team_id=team_id, user_id=USER)
        return {hit.paper.arxiv_id for hit in page.hits}

    assert best not in unread_ids(T1)
    assert best in unread_ids(T2)
    plain = search.run_search(factory, query="kv cache", limit=50, team_id=T2, user_id=USER)
    assert not any(hit.read for hit in plain.hits)
    assert any(hit.read for hit in search.run_search(factory, query="kv cache", limit=50, team_id=T1,
                                                     user_id=USER).hits)


def test_for_you_and_popular_see_only_their_workspaces_reads(seeded):
    factory = seeded.session_factory
    reading.mark_read(factory, team_id=T1, user_id=USER, arxiv_id=KV_PAPER, source="button")
    reading.mark_read(factory, team_id=T1, user_id="U0OTHER", arxiv_id=KV_PAPER, source="button")

    popular_t1 = recommend.popular(factory, team_id=T1, window="month", limit=5)
    popular_t2 = recommend.popular(factory, team_id=T2, window="month", limit=5)
    assert [(p.paper.arxiv_id, p.readers) for p in popular_t1.items] == [(KV_PAPER, 2)]
    assert popular_t2.items == ()

    mine = recommend.for_you_by_reads(factory, team_id=T1, user_id=USER, limit=5, topics=(), window_days=3650)
    theirs = recommend.for_you_by_reads(factory, team_id=T2, user_id=USER, limit=5,
                                        topics=(Topic(("KV cache",)),), window_days=3650)
    assert not mine.cold_start and KV_PAPER not in {item.paper.arxiv_id for item in mine.items}
    assert theirs.cold_start  # T1's reads make no profile for the same user id in T2
    assert all(item.readers == 0 for item in theirs.items)
