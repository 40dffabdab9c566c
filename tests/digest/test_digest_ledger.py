"""The ledger's guarantees under contention: one owner per (channel, date), one post per paper."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta

from bot import digest
from bot.arxiv_source import read_feed_file
from bot.ingest import ingest_feed_file
from bot.topics import Topic, topic_matches
from db import ledger
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID

DAY = date(2025, 3, 21)


def test_of_many_racing_claims_exactly_one_wins(store):
    now = datetime.now(UTC)
    barrier = threading.Barrier(8)
    winners = []

    def claim(owner: str) -> None:
        barrier.wait()
        with store.session_factory.begin() as session:
            run = ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner=owner, now=now,
                                   lease=digest.LEASE)
        if run is not None:
            winners.append(owner)

    threads = [threading.Thread(target=claim, args=(f"p{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(winners) == 1


def test_an_expired_lease_is_taken_over_by_exactly_one_of_the_waiting_processes(store):
    start = datetime.now(UTC)
    with store.session_factory.begin() as session:
        assert ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner="dead", now=start,
                                lease=digest.LEASE)
    later = start + digest.LEASE + timedelta(seconds=1)
    barrier = threading.Barrier(6)
    winners = []

    def claim(owner: str) -> None:
        barrier.wait()
        with store.session_factory.begin() as session:
            if ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner=owner, now=later,
                                lease=digest.LEASE):
                winners.append(owner)

    threads = [threading.Thread(target=claim, args=(f"p{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(winners) == 1


def test_a_done_run_is_never_claimed_again(store):
    now = datetime.now(UTC)
    with store.session_factory.begin() as session:
        run = ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner="a", now=now,
                               lease=digest.LEASE)
        ledger.finish_run(session, run_id=run.id, owner="a", status=ledger.DONE, now=now)
    with store.session_factory.begin() as session:
        assert ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner="b",
                                now=now + timedelta(days=1),
                                lease=digest.LEASE) is None


def test_a_paper_is_planned_for_a_channel_only_once(store):
    now = datetime.now(UTC)
    with store.session_factory.begin() as session:
        first = ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY, owner="a", now=now,
                                 lease=digest.LEASE)
        assert ledger.plan_items(session, run_id=first.id, team_id=TEAM_ID, channel="C1", arxiv_ids=["1", "2"]) == 2
        second = ledger.claim_run(session, team_id=TEAM_ID, channel="C1", digest_date=DAY + timedelta(days=1),
                                  owner="a", now=now,
                                  lease=digest.LEASE)
        assert ledger.plan_items(session, run_id=second.id, team_id=TEAM_ID, channel="C1", arxiv_ids=["2", "3"]) == 1
        other = ledger.claim_run(session, team_id=TEAM_ID, channel="C2", digest_date=DAY, owner="a", now=now,
                                 lease=digest.LEASE)
        assert ledger.plan_items(session, run_id=other.id, team_id=TEAM_ID, channel="C2", arxiv_ids=["1", "2"]) == 2


def test_two_digest_processes_started_together_post_once(store, slack_env, fake_slack):
    env = {**os.environ, **slack_env, "DIGEST_KEYWORDS": "KV cache"}
    ingest_feed_file(store.session_factory, SEED_FEED)  # the papers (`papers-bot fetch --from-file` stores the same)
    command = [sys.executable, "-m", "bot", "digest", "--date", DAY.isoformat(), "--no-fetch"]
    processes = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    statuses = sorted(out.split(": ")[-1].split(",")[0].strip() for out, _ in outputs)
    assert statuses[1] == "posted" and statuses[0] in ("busy", "already-done"), outputs
    calls = fake_slack.calls_to("chat.postMessage")
    parents = [c for c in calls if not c.args.get("thread_ts")]
    assert len(parents) == 1
    blocks = [json.loads(c.args["blocks"]) if isinstance(c.args["blocks"], str) else c.args["blocks"] for c in calls]
    ids = [b["block_id"] for message in blocks for b in message if b.get("block_id", "").startswith("digest:")]
    # Every KV-cache paper of the seed day reached the channel, each once (merged from the threaded race test).
    on_topic = [p for p in read_feed_file(SEED_FEED) if topic_matches(p, Topic(("KV cache",)))]
    assert len(ids) == len(set(ids)) == len(on_topic) > 0
