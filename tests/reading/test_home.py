"""The App Home: `app_home_opened` publishes counts, recent reads and unread digest papers, per user."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import reading
from bot.ingest import ingest_feed_file, ingest_records
from bot.render_blocks.common import MARK_READ, MARK_UNREAD
from db.models import DigestItem, DigestRun
from db.records import PaperRecord
from handlers import events
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, event_body, post

NOW = datetime.now(UTC)


def post_digest(store, *, channel: str, arxiv_ids: list[str], posted_at: datetime | None,
                digest_date: date | None = None, team_id: str = TEAM_ID) -> None:
    """What the digest job leaves behind: a run and its posted items (posted_at None = planned only)."""
    with store.session_factory.begin() as session:
        run = DigestRun(team_id=team_id, channel=channel, digest_date=digest_date or (posted_at or NOW).date(),
                        status="done", started_at=posted_at or NOW, paper_count=len(arxiv_ids))
        session.add(run)
        session.flush()
        session.add_all(
            DigestItem(run_id=run.id, team_id=team_id, channel=channel, arxiv_id=arxiv_id, position=n,
                       posted_at=posted_at,
                       message_ts=f"1700000000.{n:06d}" if posted_at else None)
            for n, arxiv_id in enumerate(arxiv_ids)
        )


@pytest.fixture
def server(slack_server, store, fake_slack):
    ingest_feed_file(store.session_factory, SEED_FEED)
    # What users.conversations answers: the channels each user is a member of.
    fake_slack.user_channels = {"U0ALICE": ["C0DIGEST", "C0OTHER", "C0PLANNED"], "U0BOB": ["C0DIGEST"]}
    return slack_server


def open_home(server, fake_slack, *, user_id: str = "U0ALICE", tab: str = "home", count: int = 1) -> dict:
    body = event_body({"type": "app_home_opened", "user": user_id, "channel": "D0DM", "tab": tab,
                       "event_ts": f"{NOW.timestamp():.6f}"}, event_id=f"Ev{user_id}{count}")
    response = post(f"{server}/slack/events", body, content_type="application/json")
    assert response.status_code == 200
    calls = fake_slack.wait_for("views.publish", count)
    assert len(calls) == count, fake_slack.calls_to("views.publish", ok=None)
    call = calls[-1]
    assert call.args["user_id"] == user_id
    view = call.args["view"]
    return json.loads(view) if isinstance(view, str) else view


def mark(store, arxiv_id: str, *, user_id: str = "U0ALICE", when: datetime = NOW) -> None:
    reading.mark_read(store.session_factory, team_id=TEAM_ID, user_id=user_id, arxiv_id=arxiv_id, source="button",
                      now=when)


def as_text(view: dict) -> str:
    return json.dumps(view, ensure_ascii=False)


def buttons(view: dict, action_id: str) -> list[str]:
    """The button values of the reads and digest-paper sections (For you and Most read have their own tests)."""
    return [b["accessory"]["value"] for b in view["blocks"]
            if b.get("accessory", {}).get("action_id") == action_id
            and not b.get("block_id", "").startswith(("foryou_home:", "popular:"))]


def test_home_shows_counts_recent_reads_and_unread_digest_papers(server, store, fake_slack):
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465", "2503.15436", "2503.15271"],
                posted_at=NOW - timedelta(days=1))
    post_digest(store, channel="C0OTHER", arxiv_ids=["2503.15436", "2503.15209"], posted_at=NOW - timedelta(hours=2))
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.13064"], posted_at=NOW - timedelta(days=40),
                digest_date=(NOW - timedelta(days=40)).date())
    post_digest(store, channel="C0PLANNED", arxiv_ids=["2503.12988"], posted_at=None)
    mark(store, "2503.15465")
    mark(store, "2503.14881", when=reading.week_start(NOW) - timedelta(days=3))

    view = open_home(server, fake_slack)
    assert view["type"] == "home"
    text = as_text(view)
    assert "*1* read this week · *2* read in total" in text
    assert buttons(view, MARK_UNREAD) == ["2503.15465", "2503.14881"]
    # Newest post first, each paper once, read ones, old digests and unposted items left out.
    assert buttons(view, MARK_READ) == ["2503.15436", "2503.15209", "2503.15271"]
    assert "not read yet* (3)" in text


def test_home_is_per_user(server, store, fake_slack):
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465", "2503.15436"], posted_at=NOW - timedelta(hours=1))
    mark(store, "2503.15465", user_id="U0ALICE")

    bob = open_home(server, fake_slack, user_id="U0BOB")
    assert "*0* read this week · *0* read in total" in as_text(bob)
    assert buttons(bob, MARK_UNREAD) == []
    assert buttons(bob, MARK_READ) == ["2503.15465", "2503.15436"]

    alice = open_home(server, fake_slack, user_id="U0ALICE", count=2)
    assert buttons(alice, MARK_UNREAD) == ["2503.15465"]
    assert buttons(alice, MARK_READ) == ["2503.15436"]


def test_two_hundred_digest_papers_stay_within_the_view_block_limit(server, store, fake_slack):
    when = datetime(2025, 3, 1, tzinfo=UTC)
    many = [PaperRecord(arxiv_id=f"2503.{20000 + n}", version=1, title=f"Paper {n} with a <b>tag</b> & more " * 4,
                        abstract="Abstract.", authors=tuple(f"Author {k}" for k in range(40)),
                        primary_category="cs.LG", categories=("cs.LG",), published=when, updated=when)
            for n in range(200)]
    ingest_records(store.session_factory, many)
    post_digest(store, channel="C0DIGEST", arxiv_ids=[p.arxiv_id for p in many], posted_at=NOW - timedelta(hours=3))
    for n in range(10):
        mark(store, f"2503.{20000 + n}", when=NOW - timedelta(minutes=n))

    view = open_home(server, fake_slack)  # the fake refuses a view over 100 blocks
    assert len(view["blocks"]) <= 100
    assert len(buttons(view, MARK_READ)) >= 20
    assert "not read yet* (190)" in as_text(view)
    # The digest section ends with how many more there are (Most read this week follows it).
    contexts = [b["elements"][0]["text"] for b in view["blocks"] if b["type"] == "context"]
    assert any(text.startswith("…and ") and "more" in text for text in contexts)
    assert "<b>" not in as_text(view) and "&lt;b&gt;" in as_text(view)


def test_messages_tab_publishes_nothing(server, fake_slack):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0DM", "tab": "messages"})
    assert post(f"{server}/slack/events", body, content_type="application/json").status_code == 200
    assert fake_slack.wait_for("views.publish", timeout=1) == []


def test_mark_read_in_the_home_records_the_read_and_refreshes_the_view(server, store, fake_slack):
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465", "2503.15436"], posted_at=NOW - timedelta(hours=1))
    view = open_home(server, fake_slack)
    assert buttons(view, MARK_READ) == ["2503.15465", "2503.15436"]

    action = {"action_id": MARK_READ, "type": "button", "value": "2503.15436", "block_id": "h1",
              "text": {"type": "plain_text", "text": "Mark read"}}
    body = block_actions_body(action, container={"type": "view", "view_id": "V1"},
                              view={"id": "V1", "type": "home", "blocks": view["blocks"]})
    assert post(f"{server}/slack/events", body).status_code == 200
    refreshed = fake_slack.wait_for("views.publish", 2)[-1].args["view"]
    refreshed = json.loads(refreshed) if isinstance(refreshed, str) else refreshed
    assert buttons(refreshed, MARK_READ) == ["2503.15465"]
    assert buttons(refreshed, MARK_UNREAD) == ["2503.15436"]
    [read] = reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", limit=5).reads
    assert read.source == "home"
    assert fake_slack.calls_to("response_url", ok=None) == []


def test_unread_in_the_home_removes_the_read_and_refreshes_the_view(server, store, fake_slack):
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465"], posted_at=NOW - timedelta(hours=1))
    mark(store, "2503.15465")
    view = open_home(server, fake_slack)
    assert buttons(view, MARK_UNREAD) == ["2503.15465"] and buttons(view, MARK_READ) == []

    action = {"action_id": MARK_UNREAD, "type": "button", "value": "2503.15465", "block_id": "h2",
              "text": {"type": "plain_text", "text": "Unread"}}
    body = block_actions_body(action, container={"type": "view", "view_id": "V1"},
                              view={"id": "V1", "type": "home", "blocks": view["blocks"]})
    assert post(f"{server}/slack/events", body).status_code == 200
    refreshed = fake_slack.wait_for("views.publish", 2)[-1].args["view"]
    refreshed = json.loads(refreshed) if isinstance(refreshed, str) else refreshed
    assert buttons(refreshed, MARK_UNREAD) == [] and buttons(refreshed, MARK_READ) == ["2503.15465"]
    assert "*0* read this week · *0* read in total" in as_text(refreshed)


def test_home_lists_only_digest_papers_from_channels_the_user_is_in(server, store, fake_slack):
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465"], posted_at=NOW - timedelta(hours=3))
    post_digest(store, channel="C0SECRET", arxiv_ids=["2503.15436", "2503.15271"], posted_at=NOW - timedelta(hours=1))
    fake_slack.user_channels = {"U0ALICE": ["C0DIGEST"], "U0CAROL": ["C0DIGEST", "C0SECRET"]}

    alice = open_home(server, fake_slack, user_id="U0ALICE")
    assert buttons(alice, MARK_READ) == ["2503.15465"]
    assert "2503.15436" not in as_text(alice) and "not read yet* (1)" in as_text(alice)
    carol = open_home(server, fake_slack, user_id="U0CAROL", count=2)
    assert buttons(carol, MARK_READ) == ["2503.15436", "2503.15271", "2503.15465"]
    asked = [c.args for c in fake_slack.calls_to("users.conversations")]
    assert [a["user"] for a in asked] == ["U0ALICE", "U0CAROL"]
    assert all(a["types"] == "public_channel,private_channel" for a in asked)

    # A user in no digest channel sees no digest papers, and so does everyone when Slack won't say.
    assert buttons(open_home(server, fake_slack, user_id="U0DAVE", count=3), MARK_READ) == []
    fake_slack.faults["users.conversations"] = ["missing_scope"]
    assert buttons(open_home(server, fake_slack, user_id="U0CAROL", count=4), MARK_READ) == []


def test_membership_is_read_across_pages(server, store, fake_slack):
    post_digest(store, channel="C0250", arxiv_ids=["2503.15465"], posted_at=NOW - timedelta(hours=1))
    fake_slack.user_channels = {"U0ALICE": [f"C0{n:03d}" for n in range(260)]}  # two pages of 200
    assert buttons(open_home(server, fake_slack), MARK_READ) == ["2503.15465"]
    assert len(fake_slack.calls_to("users.conversations")) == 2


def test_each_unread_digest_paper_links_to_its_thread_newest_digest_first(server, store, fake_slack):
    events._PERMALINKS.clear()  # the process's cache, shared with earlier tests' same-looking ts
    post_digest(store, channel="C0DIGEST", arxiv_ids=["2503.15465"], posted_at=NOW - timedelta(days=2))
    post_digest(store, channel="C0OTHER", arxiv_ids=["2503.15209"], posted_at=NOW - timedelta(hours=3))
    view = open_home(server, fake_slack)
    assert buttons(view, MARK_READ) == ["2503.15209", "2503.15465"]  # the newest digest first
    lines = [b["text"]["text"] for b in view["blocks"] if b.get("accessory", {}).get("action_id") == MARK_READ
             and not b.get("block_id", "").startswith(("foryou_home:", "popular:"))]
    assert "<https://test.slack.com/archives/C0OTHER/p1700000000000000|in the thread>" in lines[0]
    assert "<https://test.slack.com/archives/C0DIGEST/p1700000000000000|in the thread>" in lines[1]
    assert len(fake_slack.calls_to("chat.getPermalink")) == 2
    open_home(server, fake_slack, count=2)  # a permalink never changes: Slack is not asked again
    assert len(fake_slack.calls_to("chat.getPermalink")) == 2


def test_a_home_without_any_digest_says_how_to_start_one(server, fake_slack):
    text = as_text(open_home(server, fake_slack))
    assert "No digest has reached your channels" in text and "/papers topic set" in text
    assert "You are all caught up" not in text
