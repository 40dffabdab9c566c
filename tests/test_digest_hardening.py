"""Hardening the digest run (issue 11, items 2-4): what Slack accepted is never posted again, whatever
failed after it -- a 500 or a dropped connection after Slack took the message, a crash before its ts was
recorded, the database failing mid-run, a rate limit that outlives the lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot import digest, ingest
from bot.app import build_digest_poster
from db import ledger
from tests.conftest import SEED_FEED
from tests.test_digest_slack import DAY, SEED_ON_TOPIC


@pytest.fixture
def seeded(store):
    ingest.ingest_feed_file(store.session_factory, SEED_FEED)
    return store


def run_digest(store, settings, *, poster=None, day=DAY, **kwargs):
    kwargs.setdefault("pace_seconds", 0)
    return digest.post_digest(store.session_factory, poster or build_digest_poster(settings), settings,
                              channel="C0DIGEST", digest_date=day, **kwargs)


def stored_parents(fake_slack) -> list[dict]:
    return [m for m in fake_slack.stored("C0DIGEST") if "thread_ts" not in m]


def stored_paper_ids(fake_slack) -> list[str]:
    return [block["block_id"].removeprefix("digest:") for m in fake_slack.stored("C0DIGEST")
            for block in m.get("blocks", []) if block.get("block_id", "").startswith("digest:")]


def assert_in_the_channel_exactly_once(fake_slack, count=SEED_ON_TOPIC) -> None:
    """Counted from what Slack accepted, not from what it answered: duplicates and losses both show."""
    ids = stored_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == count, (len(ids), len(set(ids)))
    assert len(stored_parents(fake_slack)) == 1


def ledger_items(store, day=DAY) -> list[ledger.ItemRecord]:
    with store.session_factory.begin() as session:
        run = ledger.get_run(session, channel="C0DIGEST", digest_date=day)
        return ledger.run_items(session, run_id=run.id) if run else []


# -- 3. Slack's 500 after accepting a message makes no copies -------------------------------------------


def test_slack_answering_500_after_accepting_the_parent_three_times_leaves_one_parent(seeded, slack_settings,
                                                                                       fake_slack):
    fake_slack.faults["chat.postMessage"] = ["500:after"] * 3
    report = run_digest(seeded, slack_settings)
    if report.status != "posted":  # a rerun must not add a copy either
        run_digest(seeded, slack_settings)
    assert_in_the_channel_exactly_once(fake_slack)
    assert all(i.message_ts for i in ledger_items(seeded))


def test_slack_answering_500_after_accepting_a_reply_does_not_post_it_twice(seeded, slack_settings, fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "500:after", "500:after"]
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)


def test_a_connection_dropped_after_slack_accepted_a_reply_does_not_post_it_twice(seeded, slack_settings,
                                                                                  fake_slack):
    fake_slack.faults["chat.postMessage"] = ["", "", "reset:after"]
    assert run_digest(seeded, slack_settings).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)


class CrashAfterPost:
    """Posts through the real client, then dies (like a SIGKILL) before the ts of the Nth message is recorded."""

    def __init__(self, inner, crash_after: int):
        self.inner, self.crash_after, self.count = inner, crash_after, 0

    def post(self, **kwargs):
        ts = self.inner.post(**kwargs)
        self.count += 1
        if self.count == self.crash_after:
            raise KeyboardInterrupt("process killed after Slack accepted the message")
        return ts


@pytest.mark.parametrize("crash_after", [1, 3], ids=["parent", "reply"])
def test_a_crash_between_a_post_and_recording_its_ts_is_found_not_posted_again(seeded, slack_settings, fake_slack,
                                                                             crash_after):
    crashing = CrashAfterPost(build_digest_poster(slack_settings), crash_after)
    with pytest.raises(KeyboardInterrupt):
        run_digest(seeded, slack_settings, poster=crashing, owner="killed")
    later = datetime.now(UTC) + digest.LEASE + timedelta(seconds=1)
    assert run_digest(seeded, slack_settings, clock=lambda: later).status == "posted"
    assert_in_the_channel_exactly_once(fake_slack)
    # The message found in Slack is the one the ledger now points at.
    thread = {m["thread_ts"] for m in fake_slack.stored("C0DIGEST") if "thread_ts" in m}
    assert thread == {stored_parents(fake_slack)[0]["ts"]}


def test_every_digest_message_carries_its_run_and_part_as_slack_metadata(seeded, slack_settings, fake_slack):
    run_digest(seeded, slack_settings)
    with seeded.session_factory.begin() as session:
        run = ledger.get_run(session, channel="C0DIGEST", digest_date=DAY)
    marks = [m.get("metadata") for m in fake_slack.stored("C0DIGEST")]
    assert all(m and m["event_type"] == "papers_digest" for m in marks)
    assert [m["event_payload"]["run_id"] for m in marks] == [run.id] * len(marks)
    assert [m["event_payload"]["chunk"] for m in marks] == list(range(len(marks)))


def test_the_digest_client_never_resends_a_post_on_its_own_except_after_a_429(slack_settings):
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    poster = build_digest_poster(slack_settings)
    handlers = poster.post_client.retry_handlers
    assert handlers and all(isinstance(h, RateLimitErrorRetryHandler) for h in handlers)
