"""`/papers topic` shows the channel's digest topic, escaped, and says where it comes from; its creator edits it.

Edits ask Slack who is asking (tests/digest/test_topic_permissions.py has the policy), so they run against the
fake Slack, where CHANNEL_CREATOR created every channel.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.app import Services
from db import topics as topic_store
from handlers.topic import topic_command
from tests.fakes.slack_api import CHANNEL_CREATOR, TEAM_ID


def reply(store, settings, channel: str) -> dict:
    return topic_command(Services(settings=settings, store=store), {"team_id": TEAM_ID, "channel_id": channel}, "")


def test_the_digest_channel_shows_the_default_topic_and_schedule(store, settings):
    answer = reply(store, settings, "C0DIGEST")
    assert answer["response_type"] == "ephemeral"
    assert "`KV cache`" in answer["text"] and "the workspace default" in answer["text"]
    assert "09:00 UTC" in answer["text"] and "mon, tue" in answer["text"]
    assert "DIGEST_" not in answer["text"]  # setting names mean nothing to Slack users


def test_a_channel_with_its_own_topic_shows_it_escaped(store, settings):
    with store.session_factory.begin() as session:
        topic_store.set_channel_topic(session, team_id=TEAM_ID, channel="C0OTHER", keywords=["<!channel> sparse",
                                                                                             "pruning"],
                                      exclude=["survey & review"], categories=["cs.LG"],
                                      updated_at=datetime.now(UTC))
    answer = reply(store, settings, "C0OTHER")
    sent = json.dumps(answer)
    assert "<!channel>" not in sent and "&lt;!channel&gt; sparse" in answer["text"]
    assert "survey &amp; review" in answer["text"] and "`cs.LG`" in answer["text"]
    assert "this channel's topic" in answer["text"]
    assert len(answer["blocks"]) == 1 and len(answer["blocks"][0]["text"]["text"]) <= 3000


def test_a_channel_without_digest_says_so(store, settings):
    answer = reply(store, settings, "C0RANDOM")
    assert "No digest is posted to this channel" in answer["text"] and "/papers topic set" in answer["text"]
    assert "DIGEST_" not in answer["text"]


def test_setting_keywords_in_a_channel_gives_it_its_own_digest(store, slack_settings, fake_slack):
    answer = reply_to(store, slack_settings, "C0NEW", "set KV cache, low-bit ,KV cache")
    assert "Updated" in answer["text"] and "`KV cache`, `low-bit`" in answer["text"]
    assert "Digests are posted here" in answer["text"]
    from bot import digest

    with store.session_factory.begin() as session:
        assert "C0NEW" in digest.digest_channels(session, slack_settings, team_id=TEAM_ID)
        topic, source = digest.topic_for_channel(session, slack_settings, "C0NEW", team_id=TEAM_ID)
    assert topic.keywords == ("KV cache", "low-bit") and source == "channel"


def test_exclusions_and_categories_can_be_set_and_cleared(store, slack_settings, fake_slack):
    reply_to(store, slack_settings, "C0NEW", "exclude survey")
    answer = reply_to(store, slack_settings, "C0NEW", "categories cs.LG, cs.CL")
    assert "`survey`" in answer["text"] and "`cs.LG`, `cs.CL`" in answer["text"]
    answer = reply_to(store, slack_settings, "C0NEW", "categories any")
    assert "*Categories:* _any_" in answer["text"]


def test_reset_goes_back_to_the_default_topic(store, slack_settings, fake_slack):
    reply_to(store, slack_settings, "C0NEW", "set pruning")
    answer = reply_to(store, slack_settings, "C0NEW", "reset")
    assert "the workspace default" in answer["text"] and "`KV cache`" in answer["text"]


def test_bad_topic_edits_get_a_short_message_with_usage(store, settings):
    for args in ("set", "set none", "frobnicate <!channel>", "set " + ",".join(f"k{i}" for i in range(60)),
                 "set " + "x" * 200):
        answer = reply_to(store, settings, "C0NEW", args)
        assert "/papers topic set" in answer["text"] and "<!channel>" not in json.dumps(answer)
    assert reply(store, settings, "C0NEW")["text"].count("the workspace default") == 1


def reply_to(store, settings, channel: str, args: str, user: str = CHANNEL_CREATOR) -> dict:
    return topic_command(Services(settings=settings, store=store), {"team_id": TEAM_ID, "channel_id": channel,
                                                                    "user_id": user},
                         args)
