"""Posting the digest to Slack exactly once, through the real slack_sdk client and the loopback fake."""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bot import digest, ingest
from bot.app import build_arxiv_source, build_digest_poster
from bot.cli import main
from db import ledger
from db import topics as topic_store
from db.models import DigestItem, DigestRun
from db.records import PaperRecord
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID

DAY = date(2025, 3, 21)
SEED_ON_TOPIC = 65  # the seed papers the default topic matches


def posts(fake_slack) -> list[dict]:
    found = []
    for call in fake_slack.calls_to("chat.postMessage"):
        args = dict(call.args)
        if isinstance(args.get("blocks"), str):
            args["blocks"] = json.loads(args["blocks"])
        found.append(args)
    return found


def posted_paper_ids(fake_slack) -> list[str]:
    return [
        block["block_id"].removeprefix("digest:")
        for message in posts(fake_slack)
        for block in message.get("blocks", [])
        if block.get("block_id", "").startswith("digest:")
    ]


def post(store, settings, *, channel="C0DIGEST", day=DAY, **kwargs):
    kwargs.setdefault("pace_seconds", 0)
    return digest.post_digest(store.session_factory, build_digest_poster(settings), settings, team_id=TEAM_ID,
                              channel=channel,
                              digest_date=day, **kwargs)


@pytest.fixture
def seeded(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    return store


def test_the_digest_is_a_parent_message_with_the_papers_in_its_thread(seeded, slack_settings, fake_slack):
    report = post(seeded, slack_settings)
    messages = posts(fake_slack)
    parent, replies = messages[0], messages[1:]
    assert report.status == "posted" and report.papers_posted == SEED_ON_TOPIC
    assert not parent.get("thread_ts")
    assert {r["thread_ts"] for r in replies} == {replies[0]["thread_ts"]}
    assert len(replies) == -(-SEED_ON_TOPIC // digest.PAPERS_PER_REPLY)
    parent_text = json.dumps(parent["blocks"])
    assert "2025-03-21" in parent_text and "65 new papers" in parent_text and "sparse" in parent_text
    assert "65 new papers" in parent["text"]
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC
    first = replies[0]["blocks"]
    section_text = json.dumps(first)
    assert "et al." in section_text or "Authors" not in section_text
    # Best first: the paper with the most topic words in its title leads, its matched keywords and bold snippet shown.
    assert "Towards Extreme Pruning" in first[0]["text"]["text"] and "_sparsity, pruning_" in section_text
    assert "*pruning*" in section_text
    buttons = [e for b in first if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {"paper_show_abstract", "paper_mark_read", "paper_save",
                                                  "paper_more_like_this", "paper_open_pdf"}
    assert all(b["value"] for b in buttons) and any(b.get("url") for b in buttons)
    for message in messages:
        assert message["text"] and len(message["blocks"]) <= 50


def test_rerunning_the_same_date_posts_nothing(seeded, slack_settings, fake_slack):
    post(seeded, slack_settings)
    sent = len(posts(fake_slack))
    again = post(seeded, slack_settings)
    assert again.status == "already-done"
    assert len(posts(fake_slack)) == sent


def test_a_paper_posted_on_one_day_is_not_posted_again_the_next(seeded, slack_settings, fake_slack):
    post(seeded, slack_settings)
    next_day = post(seeded, slack_settings, day=DAY + timedelta(days=1))
    assert next_day.status == "empty" and next_day.papers_posted == 0
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids))
    assert "no new papers" in posts(fake_slack)[-1]["text"]


def test_hostile_and_huge_papers_fit_and_notify_nobody(store, slack_settings, fake_slack):
    when = datetime(2025, 3, 20, 12, tzinfo=UTC)
    hostile = PaperRecord(
        arxiv_id="2503.99999", version=1, title="<!channel> Sparse <@U123> & <https://evil.example|click>",
        abstract=("Sparse <!here> attention & <@U999> pruning. " * 60)[:1920], authors=("<!everyone>",),
        primary_category="cs.LG", categories=("cs.LG",), published=when, updated=when,
    )
    huge = dataclasses.replace(
        hostile, arxiv_id="2503.99998", title=("Sparse " + "very long title " * 40)[:300],
        abstract=("sparse & <b> " * 200)[:1920], authors=tuple(f"Author Number {i}" for i in range(120)),
    )
    ingest.ingest_records(store.session_factory, [hostile, huge])
    report = post(store, slack_settings)
    assert report.status == "posted" and report.papers_posted == 2 and report.errors == []
    sent = json.dumps(posts(fake_slack))
    for live in ("<!channel>", "<@U123>", "<!here>", "<@U999>", "<!everyone>", "<https://evil"):
        assert live not in sent
    assert "&lt;!channel&gt;" in sent
    assert "et al." in sent


def test_a_429_in_the_middle_loses_and_doubles_nothing(seeded, slack_settings, fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "", "429:1"]
    report = post(seeded, slack_settings)
    assert report.status == "posted" and report.errors == []
    assert len(fake_slack.calls_to("chat.postMessage", ok=False)) == 1
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC


class CrashingPoster:
    """Posts through the real client, then dies (like a killed process) before the Nth message."""

    def __init__(self, inner, crash_before: int):
        self.inner, self.crash_before, self.count = inner, crash_before, 0

    def post(self, **kwargs):
        self.count += 1
        if self.count == self.crash_before:
            raise KeyboardInterrupt("process killed")
        return self.inner.post(**kwargs)


def test_a_run_that_crashed_half_way_posts_only_the_rest(seeded, slack_settings, fake_slack):
    crashing = CrashingPoster(build_digest_poster(slack_settings), crash_before=5)
    with pytest.raises(KeyboardInterrupt):
        digest.post_digest(seeded.session_factory, crashing, slack_settings, team_id=TEAM_ID, channel="C0DIGEST",
                           digest_date=DAY,
                           owner="crashed", pace_seconds=0)
    assert len(posts(fake_slack)) == 4
    # The crashed owner's lease still holds: a restart straight away waits instead of doubling.
    assert post(seeded, slack_settings).status == "busy"
    later = datetime.now(UTC) + digest.LEASE + timedelta(seconds=1)
    resumed = post(seeded, slack_settings, clock=lambda: later)
    assert resumed.status == "posted"
    messages = posts(fake_slack)
    assert sum(1 for m in messages if not m.get("thread_ts")) == 1
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC



def test_an_empty_day_posts_a_one_line_note_once(store, slack_settings, fake_slack):
    assert post(store, slack_settings).status == "empty"
    assert post(store, slack_settings).status == "already-done"
    messages = posts(fake_slack)
    assert len(messages) == 1 and "no new papers" in messages[0]["text"]


def test_an_empty_day_is_silent_with_quiet_empty(store, slack_settings, fake_slack):
    quiet = dataclasses.replace(slack_settings, digest_quiet_empty=True)
    assert post(store, quiet).status == "empty"
    assert posts(fake_slack) == []


def test_a_channel_the_bot_is_not_in_is_reported_and_retried_after_the_invite(seeded, slack_settings, fake_slack,
                                                                              caplog):
    fake_slack.channel_errors["C0DIGEST"] = "not_in_channel"
    with caplog.at_level(logging.ERROR):
        report = post(seeded, slack_settings)
    assert report.status == "failed"
    assert any("/invite" in r.getMessage() and "C0DIGEST" in r.getMessage() for r in caplog.records)
    del fake_slack.channel_errors["C0DIGEST"]
    assert post(seeded, slack_settings).status == "posted"
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC


def test_another_slack_error_is_logged_with_the_papers_and_the_run_goes_on(seeded, slack_settings, fake_slack,
                                                                           caplog):
    fake_slack.faults["chat.postMessage"] = ["", "", "invalid_blocks"]
    with caplog.at_level(logging.ERROR):
        report = post(seeded, slack_settings)
    assert report.status == "posted"
    assert len(report.errors) == digest.PAPERS_PER_REPLY
    assert report.papers_posted == SEED_ON_TOPIC - digest.PAPERS_PER_REPLY
    assert sum("invalid_blocks" in r.getMessage() for r in caplog.records) == digest.PAPERS_PER_REPLY
    with seeded.session_factory.begin() as session:
        errors = session.scalars(select(DigestItem.error).where(DigestItem.error.is_not(None))).all()
    assert errors == ["invalid_blocks"] * digest.PAPERS_PER_REPLY


def test_each_channel_gets_its_own_topic(seeded, slack_settings, fake_slack):
    with seeded.session_factory.begin() as session:
        topic_store.set_channel_topic(session, team_id=TEAM_ID, channel="C0KV", keywords=["KV cache"],
                                      updated_at=datetime.now(UTC))
        assert digest.digest_channels(session, slack_settings, team_id=TEAM_ID) == ["C0DIGEST", "C0KV"]
    report = post(seeded, slack_settings, channel="C0KV")
    assert 0 < report.papers_posted < SEED_ON_TOPIC
    sent = [m for m in posts(fake_slack) if m["channel"] == "C0KV"]
    assert all("kv" in json.dumps(m["blocks"]).lower() for m in sent[1:])
    # The default channel still gets all of its papers, including those posted to C0KV.
    assert post(seeded, slack_settings).papers_posted == SEED_ON_TOPIC


def test_fetch_then_post_from_the_fake_arxiv_end_to_end(store, slack_settings, fake_slack, fake_arxiv):
    settings = dataclasses.replace(slack_settings, arxiv_api_url=fake_arxiv.url, arxiv_delay_seconds=0.01)
    digest.refresh_papers(store.session_factory, build_arxiv_source(settings), settings, team_id=TEAM_ID,
                          channels=["C0DIGEST"],
                          digest_date=DAY)
    assert fake_arxiv.requests
    report = post(store, settings)
    assert report.papers_posted == SEED_ON_TOPIC


def test_the_cli_posts_the_digest_and_a_rerun_posts_nothing(slack_env, fake_slack, capsys, monkeypatch):
    monkeypatch.setenv("DIGEST_KEYWORDS", "KV cache")
    args = ["digest", "--date", "2025-03-21", "--from-file", str(SEED_FEED)]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert "posted" in first
    sent = len(posts(fake_slack))
    assert sent >= 2
    assert main(args) == 0
    assert "already-done" in capsys.readouterr().out
    assert len(posts(fake_slack)) == sent


def test_the_ledger_records_every_posted_paper_with_its_message_ts(seeded, slack_settings, fake_slack):
    post(seeded, slack_settings)
    with seeded.session_factory.begin() as session:
        run = ledger.get_run(session, team_id=TEAM_ID, channel="C0DIGEST", digest_date=DAY)
        items = ledger.run_items(session, run_id=run.id)
    assert run.status == "done" and run.parent_ts
    assert {m["thread_ts"] for m in posts(fake_slack)[1:]} == {run.parent_ts}
    assert len(items) == SEED_ON_TOPIC and all(i.message_ts for i in items)
    reply_ts = {i.message_ts for i in items}
    assert len(reply_ts) == -(-SEED_ON_TOPIC // digest.PAPERS_PER_REPLY)


class TakenOverPoster:
    """Stalls (like a long 429 wait) after the parent until another process takes the run over."""

    def __init__(self, inner, store):
        self.inner, self.store, self.count = inner, store, 0

    def post(self, **kwargs):
        self.count += 1
        ts = self.inner.post(**kwargs)
        if self.count == 2:
            with self.store.session_factory.begin() as session:
                session.execute(DigestRun.__table__.update().values(lease_owner="the-other-process"))
        return ts


def test_a_process_whose_lease_was_taken_over_stops_posting(seeded, slack_settings, fake_slack):
    poster = TakenOverPoster(build_digest_poster(slack_settings), seeded)
    report = digest.post_digest(seeded.session_factory, poster, slack_settings, team_id=TEAM_ID, channel="C0DIGEST",
                                digest_date=DAY,
                                pace_seconds=0)
    assert report.status == "busy"
    assert len(posts(fake_slack)) == 2
