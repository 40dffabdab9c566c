"""`/papers` end to end: signed, real-shaped Slack requests to the real HTTP server; the fake Slack
records what the user sees (the response_url posts) and what is posted to the channel."""

from __future__ import annotations

import json
import re
import time

import pytest

from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ, OPEN_PDF, SEARCH_MORE, SEARCH_SHARE
from db import reads as read_store
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import TEAM_ID
from tests.slack_requests import block_actions_body, post, slash_command_body


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return slack_server


def papers(server, fake_slack, text: str, *, key: str = "r1", user_id: str = "U0ALICE", **sign):
    body = slash_command_body(text, response_url=fake_slack.response_url(key), user_id=user_id)
    return post(f"{server}/slack/events", body, **sign)


def reply_to(server, fake_slack, text: str, **kwargs) -> dict:
    """Send `/papers text` and return the one message the user sees."""
    before = len(fake_slack.calls_to("response_url"))
    response = papers(server, fake_slack, text, **kwargs)
    assert response.status_code == 200, response.text
    calls = fake_slack.wait_for("response_url", before + 1)
    assert len(calls) == before + 1
    return calls[-1].args


def all_text(message: dict) -> str:
    return message.get("text", "") + "\n" + json.dumps(message.get("blocks", []), ensure_ascii=False)


def buttons(message: dict, action_id: str) -> list[dict]:
    return [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]
            if e["action_id"] == action_id]


def click(server, fake_slack, action_id: str, value: str, *, key: str = "click", user_id: str = "U0ALICE"):
    action = {"type": "button", "action_id": action_id, "value": value, "text": {"type": "plain_text", "text": "x"}}
    container = {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C0DIGEST", "is_ephemeral": True}
    body = block_actions_body(action, user_id=user_id, response_url=fake_slack.response_url(key), container=container)
    return post(f"{server}/slack/events", body)


def test_search_answers_ephemerally_with_the_total_and_the_top_five(server, fake_slack):
    started = time.monotonic()
    response = papers(server, fake_slack, "kv-cache")
    assert response.status_code == 200 and time.monotonic() - started < 3
    [call] = fake_slack.wait_for("response_url")
    message = call.args
    assert message["response_type"] == "ephemeral"
    assert message["text"].startswith("9 papers match")
    sections = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section"]
    titles = [text for text in sections if text.startswith("*<https://arxiv.org/abs/2503.")]  # linked titles
    assert len(titles) == 5
    assert all("KV" in t.split("\n")[0] for t in titles)  # KV-cache papers, by title
    # The query term is bold in the snippets: `kv-cache` is one term, so the phrase is (KV cache, KV-cache, ...).
    assert re.search(r"\*(?:KV|key-value)[ -]?caches?\*", all_text(message), re.IGNORECASE)
    assert len(buttons(message, MARK_READ)) == 5 and len(buttons(message, OPEN_PDF)) == 5
    assert len(buttons(message, SEARCH_SHARE)) == 5
    [more] = buttons(message, SEARCH_MORE)
    assert json.loads(more["value"]) == {"q": "kv-cache", "o": 5}


def test_more_shows_the_next_five(server, fake_slack):
    first = reply_to(server, fake_slack, "kv cache")
    [more] = buttons(first, SEARCH_MORE)
    assert click(server, fake_slack, SEARCH_MORE, more["value"]).status_code == 200
    [_, call] = fake_slack.wait_for("response_url", 2)
    second = call.args
    assert second["replace_original"] is True
    assert "showing 6–9" in second["blocks"][0]["text"]["text"]
    first_ids = {b["value"] for b in buttons(first, MARK_READ)}
    second_ids = {b["value"] for b in buttons(second, MARK_READ)}
    assert len(second_ids) == 4 and not first_ids & second_ids
    assert not buttons(second, SEARCH_MORE)


def test_a_read_paper_shows_a_check_and_mark_unread(server, fake_slack, store):
    from datetime import UTC, datetime

    with store.session_factory.begin() as session:
        read_store.upsert_read(session, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id="2503.11816", source="button",
                               read_at=datetime.now(UTC))
    message = reply_to(server, fake_slack, "kv cache")
    [read] = [b["text"]["text"] for b in message["blocks"] if "2503.11816" in b.get("text", {}).get("text", "")]
    assert "✓" in read
    assert sum("✓" in b.get("text", {}).get("text", "") for b in message["blocks"]) == 1
    assert buttons(message, "paper_mark_unread")[0]["value"] == "2503.11816"
    unread = reply_to(server, fake_slack, "kv cache unread", key="r2")
    assert "2503.11816" not in all_text(unread)
    assert unread["text"].startswith("8 papers match")


def test_share_posts_the_result_to_the_channel(server, fake_slack):
    assert click(server, fake_slack, SEARCH_SHARE, "2503.14881").status_code == 200
    [post_call] = fake_slack.wait_for("chat.postMessage")
    assert post_call.args["channel"] == "C0DIGEST"
    shared = all_text(post_call.args)
    assert "<@U0ALICE>" in shared and "Exploring the Limits of KV Cache Compression" in shared
    assert not fake_slack.calls_to("response_url")  # success needs no extra note


def test_share_where_the_bot_cannot_post_explains_how_to_fix_it(server, fake_slack):
    fake_slack.channel_errors["C0DIGEST"] = "not_in_channel"
    click(server, fake_slack, SEARCH_SHARE, "2503.14881")
    [note] = fake_slack.wait_for("response_url")
    assert "/invite" in note.args["text"]
    assert note.args["replace_original"] is False


def test_help_and_empty_text_show_usage(server, fake_slack):
    for n, text in enumerate(["help", ""]):
        message = reply_to(server, fake_slack, text, key=f"h{n}")
        assert "author:NAME" in all_text(message) and "/papers history" in all_text(message)


def test_no_matches_says_so_and_suggests_a_broader_query(server, fake_slack):
    message = reply_to(server, fake_slack, "zebrafish hematopoiesis")
    assert message["text"].startswith("No papers match") and "broader" in message["text"]


def test_unknown_subcommand_is_named_with_a_suggestion(server, fake_slack):
    message = reply_to(server, fake_slack, "histroy")
    assert "don't know the command" in message["text"] and "/papers history" in message["text"]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 600,
        "kv\x07cache",
        "!!! ??? ...",
        "<!channel> pruning",
        "<@U0BOB|bob>",
        "'; DROP TABLE papers; --",
        "kv AND (cache OR",
        '"',
        "title:<script>",
        "--config",
        "since:2025-99-99",
    ],
)
def test_bad_input_gets_a_short_escaped_ephemeral_reply(server, fake_slack, text):
    message = reply_to(server, fake_slack, text)
    assert message["response_type"] == "ephemeral"
    shown = all_text(message)
    assert len(message["text"]) < 400
    for live in ("<!channel>", "<@U0BOB", "<script>"):
        assert live not in shown


# Slack sends the `&`, `<` and `>` a user types in a slash command as `&amp;`, `&lt;` and `&gt;`.


def test_escaped_command_text_is_searched_as_typed_and_shown_escaped_once(server, fake_slack):
    message = reply_to(server, fake_slack, "kv &amp; cache")  # the user typed `kv & cache`
    assert message["text"].startswith("9 papers match")  # `amp` is not a search word
    shown = all_text(message)
    assert "`kv &amp; cache`" in shown
    assert "&amp;amp;" not in shown


def test_escaped_markup_typed_in_a_command_comes_back_as_text(server, fake_slack):
    message = reply_to(server, fake_slack, "&lt;script&gt; zebrafish")
    assert message["text"].startswith("No papers match")
    shown = all_text(message)
    assert "`&lt;script&gt; zebrafish`" in shown
    assert "<script>" not in shown and "&amp;lt;" not in shown
    mention = reply_to(server, fake_slack, "&lt;!channel&gt; pruning", key="r2")
    assert "<!channel>" not in all_text(mention) and "Mentions" in mention["text"]


def test_a_topic_keyword_typed_with_an_ampersand_is_stored_as_typed(server, fake_slack, store):
    from db import topics as topic_store

    message = reply_to(server, fake_slack, "topic set R&amp;D, KV cache")
    shown = all_text(message)
    assert "`R&amp;D`" in shown and "&amp;amp;" not in shown
    with store.session_factory.begin() as session:
        stored = topic_store.get_channel_topic(session, team_id=TEAM_ID, channel="C0DIGEST")
    assert stored is not None and stored.keywords == ("R&D", "KV cache")


def test_forged_signature_gets_401_and_no_reply(server, fake_slack, listener_work):
    response = papers(server, fake_slack, "kv cache", secret="not-the-secret")
    assert response.status_code == 401
    assert listener_work.wait_idle()  # anything the request started has finished
    assert not fake_slack.calls_to("response_url")


def test_stale_request_gets_401_and_no_reply(server, fake_slack, listener_work):
    response = papers(server, fake_slack, "kv cache", timestamp=int(time.time()) - 6 * 60)
    assert response.status_code == 401
    assert listener_work.wait_idle()  # anything the request started has finished
    assert not fake_slack.calls_to("response_url")


def test_a_tampered_more_button_gets_a_message_not_an_error(server, fake_slack):
    assert click(server, fake_slack, SEARCH_MORE, '{"q": 1}').status_code == 200
    [note] = fake_slack.wait_for("response_url")
    assert "run the search again" in note.args["text"]
