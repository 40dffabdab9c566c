"""The fake Slack refuses what Slack refuses: a message or view over a Block Kit limit gets Slack's error, and
one exactly at every limit goes through (so the renderers' "fits Slack" tests mean something)."""

from __future__ import annotations

import json

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack_api import BOT_TOKEN, _limit_errors


def section(text: str = "x", **extra) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def button(*, text: str = "Mark read", value: str = "2503.14881", action_id: str = "paper_mark_read") -> dict:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "value": value, "action_id": action_id}


def context(n: int) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "x"}] * n}


def fields(n: int) -> dict:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "x"}] * n}


def header(n: int) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": "h" * n}}


AT_THE_LIMIT = {
    "50 blocks": [section()] * 50,
    "section text of 3,000": [section("s" * 3000)],
    "10 fields": [fields(10)],
    "header of 150": [header(150)],
    "context of 10 elements": [context(10)],
    "block_id of 255": [section(block_id="b" * 255)],
    "button text of 75": [{"type": "actions", "elements": [button(text="t" * 75)]}],
    "button value of 2,000": [section(accessory=button(value="v" * 2000))],
    "action_id of 255": [{"type": "actions", "elements": [button(action_id="a" * 255)]}],
}
OVER_THE_LIMIT = {
    "51 blocks": [section()] * 51,
    "section text of 3,001": [section("s" * 3001)],
    "11 fields": [fields(11)],
    "header of 151": [header(151)],
    "context of 11 elements": [context(11)],
    "block_id of 256": [section(block_id="b" * 256)],
    "button text of 76": [{"type": "actions", "elements": [button(text="t" * 76)]}],
    "button value of 2,001": [section(accessory=button(value="v" * 2001))],
    "action_id of 256": [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
    "an unknown block type": [{"type": "no_such_block", "text": "x"}],
}


@pytest.mark.parametrize("blocks", AT_THE_LIMIT.values(), ids=AT_THE_LIMIT.keys())
def test_a_message_at_the_limit_is_accepted(blocks):
    assert _limit_errors({"text": "t", "blocks": blocks}, max_blocks=50) is None
    assert _limit_errors({"text": "t", "blocks": json.dumps(blocks)}, max_blocks=50) is None


@pytest.mark.parametrize("blocks", OVER_THE_LIMIT.values(), ids=OVER_THE_LIMIT.keys())
def test_a_message_over_the_limit_is_refused(blocks):
    assert _limit_errors({"text": "t", "blocks": blocks}, max_blocks=50) == "invalid_blocks"


def test_the_text_limit_and_malformed_blocks():
    assert _limit_errors({"text": "t" * 40_000}, max_blocks=50) is None
    assert _limit_errors({"text": "t" * 40_001}, max_blocks=50) == "msg_too_long"
    assert _limit_errors({"text": "t", "blocks": "[{"}, max_blocks=50) == "invalid_blocks_format"


def test_the_fake_refuses_an_over_limit_message_and_view_as_slack_does(fake_slack):
    client = WebClient(token=BOT_TOKEN, base_url=fake_slack.base_url)
    client.chat_postMessage(channel="C1", text="t", blocks=AT_THE_LIMIT["section text of 3,000"])
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="t", blocks=OVER_THE_LIMIT["section text of 3,001"])
    assert refused.value.response["error"] == "invalid_blocks"

    client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 100})
    with pytest.raises(SlackApiError) as refused:
        client.views_publish(user_id="U1", view={"type": "home", "blocks": [section()] * 101})
    assert refused.value.response["error"] == "invalid_blocks"
    assert [c.ok for c in fake_slack.calls_to("chat.postMessage", ok=None)] == [True, False]
