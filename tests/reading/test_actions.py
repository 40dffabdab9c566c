"""Mark read / Mark unread / PDF / History More clicks, end to end through the HTTP server and Bolt."""

from __future__ import annotations

import json
import threading

import pytest

from bot import reading
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import HISTORY_MORE, MARK_READ, MARK_UNREAD, OPEN_PDF
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, post

PAPER = "2503.14881"
DIGEST_MESSAGE = {"type": "message", "ts": "1700000000.000200", "text": "digest", "blocks": []}


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return slack_server


def click(server, action_id: str, value: str, *, user_id: str = "U0ALICE", response_url: str | None = None,
          block_id: str = "b1", container: dict | None = None, view: dict | None = None,
          message: dict | None = None):
    action = {"action_id": action_id, "type": "button", "value": value, "block_id": block_id,
              "text": {"type": "plain_text", "text": "x"}}
    if action_id == OPEN_PDF:
        action["url"] = f"https://arxiv.org/pdf/{value}v1"
    body = block_actions_body(action, user_id=user_id, response_url=response_url, container=container, view=view,
                              message=message if message is not None else (None if view else DIGEST_MESSAGE))
    response = post(f"{server}/slack/events", body)
    assert response.status_code == 200  # acked
    return response


def reads(store, user_id: str = "U0ALICE"):
    return reading.history(store.session_factory, team_id=TEAM_ID, user_id=user_id, limit=40).reads


def test_twelve_concurrent_mark_read_clicks_make_one_row(server, store, fake_slack):
    barrier = threading.Barrier(12)
    statuses = []

    def one_click(n: int):
        barrier.wait(timeout=5)
        statuses.append(click(server, MARK_READ, PAPER, response_url=fake_slack.response_url(f"c{n}")).status_code)

    threads = [threading.Thread(target=one_click, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [200] * 12
    notes = fake_slack.wait_for("response_url", 12, timeout=20)
    assert len(notes) == 12
    assert sum("Marked read" in n.args["text"] for n in notes) == 1
    assert sum("Already in your reads" in n.args["text"] for n in notes) == 11
    [read] = reads(store)
    assert read.paper.arxiv_id == PAPER and read.source == "button"


def test_mark_read_confirms_to_the_clicker_only_and_leaves_the_digest_alone(server, store, fake_slack):
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url("digest"))
    [note] = fake_slack.wait_for("response_url")
    assert note.args["response_type"] == "ephemeral"
    assert note.args["replace_original"] is False
    assert "Marked read" in note.args["text"]
    assert note.args["blocks"][0]["accessory"]["action_id"] == MARK_UNREAD
    assert fake_slack.calls_to("chat.update", ok=None) == []
    assert fake_slack.calls_to("chat.postMessage", ok=None) == []


def test_click_without_response_url_gets_an_ephemeral_in_the_thread(server, fake_slack):
    container = {"type": "message", "message_ts": "1700000000.000300", "thread_ts": "1700000000.000100",
                 "channel_id": "C0DIGEST", "is_ephemeral": False}
    click(server, MARK_READ, PAPER, container=container)
    [note] = fake_slack.wait_for("chat.postEphemeral")
    assert note.args["user"] == "U0ALICE" and note.args["channel"] == "C0DIGEST"
    assert note.args["thread_ts"] == "1700000000.000100"


def test_pdf_click_is_acked_and_recorded_as_opened(server, store, fake_slack):
    click(server, OPEN_PDF, PAPER, response_url=fake_slack.response_url())
    [note] = fake_slack.wait_for("response_url")
    assert note.args["replace_original"] is False
    [read] = reads(store)
    assert read.source == "opened"
    # Opening it again records nothing new and sends no second note.
    click(server, OPEN_PDF, PAPER, response_url=fake_slack.response_url())
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url())
    fake_slack.wait_for("response_url", 2)
    assert [r.source for r in reads(store)] == ["opened"]


def test_double_mark_read_keeps_one_row_and_the_first_read_time(server, store, fake_slack):
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url())
    fake_slack.wait_for("response_url")
    [first] = reads(store)
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url())
    second = fake_slack.wait_for("response_url", 2)[-1]
    assert "Already in your reads" in second.args["text"]
    [again] = reads(store)
    assert again.read_at == first.read_at


def test_clicks_are_recorded_for_the_clicker_only(server, store, fake_slack):
    click(server, MARK_READ, PAPER, user_id="U0ALICE", response_url=fake_slack.response_url())
    click(server, MARK_READ, "2503.15465", user_id="U0BOB", response_url=fake_slack.response_url())
    fake_slack.wait_for("response_url", 2)
    assert [r.paper.arxiv_id for r in reads(store, "U0ALICE")] == [PAPER]
    assert [r.paper.arxiv_id for r in reads(store, "U0BOB")] == ["2503.15465"]
    # Bob's Mark unread on Alice's paper does not touch Alice's read.
    click(server, MARK_UNREAD, PAPER, user_id="U0BOB", response_url=fake_slack.response_url())
    note = fake_slack.wait_for("response_url", 3)[-1]
    assert "was not in your reads" in note.args["text"]
    assert [r.paper.arxiv_id for r in reads(store, "U0ALICE")] == [PAPER]


def test_mark_unread_from_the_confirmation_removes_the_read(server, store, fake_slack):
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url())
    fake_slack.wait_for("response_url")
    click(server, MARK_UNREAD, PAPER, response_url=fake_slack.response_url(),
          container={"type": "message", "message_ts": "1", "channel_id": "C0DIGEST", "is_ephemeral": True},
          message={})
    note = fake_slack.wait_for("response_url", 2)[-1]
    assert "Marked unread" in note.args["text"]
    assert note.args["blocks"][0]["accessory"]["action_id"] == MARK_READ
    assert reads(store) == []


def _history_reply(store, *, limit: int):
    from bot.render_blocks.reading import history_message

    return history_message(reading.history(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", limit=limit))


def test_history_more_and_unread_redraw_the_users_history(server, store, fake_slack):
    ids = ["2503.15465", "2503.15436", "2503.15271", "2503.15209", "2503.15191"]
    for arxiv_id in ids:
        reading.mark_read(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id,
                          source="command")
    first_page = _history_reply(store, limit=2)
    more = first_page["blocks"][-1]["elements"][0]
    ephemeral = {"type": "message", "message_ts": "1", "channel_id": "C0DIGEST", "is_ephemeral": True}

    click(server, HISTORY_MORE, more["value"], response_url=fake_slack.response_url("h"), container=ephemeral,
          message={})
    [page_two] = fake_slack.wait_for("response_url")
    assert page_two.args["replace_original"] is True
    assert "3–4 of 5" in page_two.args["text"]

    # Unread on the second page: that page is drawn again without the paper.
    unread_block = page_two.args["blocks"][1]
    gone = unread_block["accessory"]["value"]
    click(server, MARK_UNREAD, gone, response_url=fake_slack.response_url("h"), block_id=unread_block["block_id"],
          container=ephemeral, message={})
    redrawn = fake_slack.wait_for("response_url", 2)[-1]
    assert redrawn.args["replace_original"] is True
    assert "3–4 of 4" in redrawn.args["text"]
    assert gone not in json.dumps(redrawn.args["blocks"])
    assert gone not in [r.paper.arxiv_id for r in reads(store)]


def test_a_forged_button_value_gets_a_clear_note(server, store, fake_slack):
    click(server, MARK_READ, "<!channel>", response_url=fake_slack.response_url())
    [note] = fake_slack.wait_for("response_url")
    assert "is not an arXiv id" in note.args["text"] and "<!channel>" not in note.args["text"]
    click(server, MARK_READ, "2501.00001", response_url=fake_slack.response_url())
    note = fake_slack.wait_for("response_url", 2)[-1]
    assert "no paper `2501.00001`" in note.args["text"]
    assert reads(store) == []


def test_a_database_hiccup_gives_the_clicker_an_apology(server, store, fake_slack, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import db.reads

    def broken(*args, **kwargs):
        raise OperationalError("INSERT INTO reads", {}, Exception("connection reset"))

    monkeypatch.setattr(db.reads, "upsert_read", broken)
    click(server, MARK_READ, PAPER, response_url=fake_slack.response_url())
    [note] = fake_slack.wait_for("response_url")
    assert note.args["text"].startswith("Sorry") and "INSERT" not in note.args["text"]
