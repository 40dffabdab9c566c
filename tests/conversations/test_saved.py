"""Saved for later, end to end through the HTTP server: Save on any paper, `/papers saved`, Remove, Mark read
moving a paper off the list, the App Home's "Saved" section; per user and idempotent under double clicks."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from bot import saved
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ, REMOVE_SAVED, SAVE_PAPER
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.reading.test_actions import click
from tests.slack_requests import block_actions_body, event_body, post, slash_command_body

FIRST, SECOND = "2503.14881", "2503.15465"


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return slack_server


def saved_ids(store, user_id: str = "U0ALICE") -> list[str]:
    page = saved.saved_list(store.session_factory, team_id=TEAM_ID, user_id=user_id)
    return [item.paper.arxiv_id for item in page.saved]


def papers(server, fake_slack, text: str, *, user_id: str = "U0ALICE") -> dict:
    before = len(fake_slack.calls_to("response_url"))
    body = slash_command_body(text, user_id=user_id, response_url=fake_slack.response_url("cmd"))
    assert post(f"{server}/slack/events", body).status_code == 200
    calls = fake_slack.wait_for("response_url", before + 1)
    assert len(calls) == before + 1
    return calls[-1].args


def action_ids(reply: dict) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in reply.get("blocks", []) if b["type"] == "actions"
            for e in b["elements"]]


def test_save_on_a_digest_paper_confirms_to_the_clicker_and_lists_it(server, store, fake_slack):
    click(server, SAVE_PAPER, FIRST, response_url=fake_slack.response_url("digest"))
    [note] = fake_slack.wait_for("response_url")
    assert note.args["response_type"] == "ephemeral" and note.args["replace_original"] is False
    assert "Saved for later" in note.args["text"]
    assert note.args["blocks"][0]["accessory"]["action_id"] == REMOVE_SAVED
    assert saved_ids(store) == [FIRST]
    assert saved_ids(store, "U0BOB") == []  # per user


def test_ten_concurrent_save_clicks_make_one_row(server, store, fake_slack):
    barrier = threading.Barrier(10)

    def one(n: int):
        barrier.wait(timeout=5)
        click(server, SAVE_PAPER, FIRST, response_url=fake_slack.response_url(f"s{n}"))

    threads = [threading.Thread(target=one, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    notes = fake_slack.wait_for("response_url", 10, timeout=20)
    assert sum("Saved for later" in n.args["text"] for n in notes) == 1
    assert sum("Already on your saved list" in n.args["text"] for n in notes) == 9
    assert saved_ids(store) == [FIRST]


def test_saved_lists_newest_first_with_mark_read_and_remove(server, store, fake_slack):
    now = datetime.now(UTC)
    for n, arxiv_id in enumerate([FIRST, SECOND]):
        saved.save_paper(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id,
                         now=now + timedelta(minutes=n))
    reply = papers(server, fake_slack, "saved")
    assert reply["response_type"] == "ephemeral"
    assert action_ids(reply) == [(MARK_READ, SECOND), (REMOVE_SAVED, SECOND), (MARK_READ, FIRST),
                                 (REMOVE_SAVED, FIRST)]
    assert reply["text"] == "Saved for later: 2"
    assert papers(server, fake_slack, "saved", user_id="U0BOB")["text"].startswith("Your saved list is empty")


def test_mark_read_takes_a_saved_paper_off_the_list_and_remove_redraws_it(server, store, fake_slack):
    for arxiv_id in (FIRST, SECOND):
        saved.save_paper(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id)
    click(server, MARK_READ, FIRST, response_url=fake_slack.response_url("read"))
    fake_slack.wait_for("response_url")
    assert saved_ids(store) == [SECOND]
    # Remove inside the user's own /papers saved list redraws the list in place.
    click(server, REMOVE_SAVED, SECOND, response_url=fake_slack.response_url("list"), block_id=f"saved:{SECOND}")
    redraw = fake_slack.wait_for("response_url", 2)[-1].args
    assert redraw["replace_original"] is True and redraw["text"].startswith("Your saved list is empty")
    assert saved_ids(store) == []


def test_saving_a_paper_already_read_keeps_it_until_it_is_read_again(server, store, fake_slack):
    papers(server, fake_slack, f"read {FIRST}")
    click(server, SAVE_PAPER, FIRST, response_url=fake_slack.response_url("save"))
    fake_slack.wait_for("response_url", 2)
    assert saved_ids(store) == [FIRST]


def test_home_shows_saved_above_the_digest_papers_and_remove_refreshes_it(server, store, fake_slack):
    fake_slack.user_channels = {"U0ALICE": ["C0DIGEST"]}
    saved.save_paper(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=FIRST)
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "channel": "D0DM", "tab": "home",
                       "event_ts": "1700000000.000100"})
    assert post(f"{server}/slack/events", body, content_type="application/json").status_code == 200
    view = fake_slack.wait_for("views.publish")[-1].args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    texts = [b.get("text", {}).get("text", "") for b in view["blocks"]]
    saved_at = next(n for n, t in enumerate(texts) if t.startswith("*Saved*"))
    digest_at = next(n for n, t in enumerate(texts) if t.startswith("*From the last"))
    assert saved_at < digest_at and "(1)" in texts[saved_at]
    assert (REMOVE_SAVED, FIRST) in action_ids(view)

    action = {"action_id": REMOVE_SAVED, "type": "button", "value": FIRST, "block_id": "h1",
              "text": {"type": "plain_text", "text": "Remove"}}
    body = block_actions_body(action, container={"type": "view", "view_id": "V1"},
                              view={"id": "V1", "type": "home", "blocks": view["blocks"]})
    assert post(f"{server}/slack/events", body).status_code == 200
    refreshed = fake_slack.wait_for("views.publish", 2)[-1].args["view"]
    refreshed = json.loads(refreshed) if isinstance(refreshed, str) else refreshed
    assert (REMOVE_SAVED, FIRST) not in action_ids(refreshed)
    assert saved_ids(store) == []


def test_help_lists_saved(server, fake_slack):
    reply = papers(server, fake_slack, "help")
    assert "/papers saved" in reply["blocks"][0]["text"]["text"]


def test_the_save_paper_shortcut_saves_every_arxiv_link_in_the_message(server, store, fake_slack):
    payload = {
        "type": "message_action", "callback_id": "save_paper", "trigger_id": "1.2.3", "action_ts": "1700000000.1",
        "team": {"id": TEAM_ID, "domain": "test"}, "user": {"id": "U0ALICE", "team_id": TEAM_ID},
        "channel": {"id": "C0DIGEST", "name": "papers"}, "response_url": fake_slack.response_url("shortcut"),
        "message": {"type": "message", "ts": "1700000000.000900", "user": "U0BOB",
                    "text": f"read <https://arxiv.org/pdf/{FIRST}v1.pdf> and arXiv:{SECOND}, also {FIRST}"},
    }
    assert post(f"{server}/slack/events", urlencode({"payload": json.dumps(payload)})).status_code == 200
    [note] = fake_slack.wait_for("chat.postEphemeral")
    assert note.args["user"] == "U0ALICE" and note.args["channel"] == "C0DIGEST"
    assert "Saved 2 papers" in note.args["text"]
    assert sorted(saved_ids(store)) == sorted([FIRST, SECOND])
