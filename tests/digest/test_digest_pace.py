"""Slack allows about one message a second per channel: a digest run waits DIGEST_PACE_SECONDS after each
message it posts (1 s unless set). The other tests set it to 0 (tests/conftest.py's `env`)."""

from __future__ import annotations

from bot.cli import main
from bot.config import Settings
from tests.conftest import SEED_FEED


def test_the_pace_is_one_second_unless_set():
    assert Settings.from_env({}).digest_pace_seconds == 1.0
    assert Settings.from_env({"DIGEST_PACE_SECONDS": "0.25"}).digest_pace_seconds == 0.25


def test_a_digest_run_spaces_its_messages_by_the_pace(slack_env, fake_slack, monkeypatch):
    monkeypatch.setenv("DIGEST_PACE_SECONDS", "0.3")
    monkeypatch.setenv("DIGEST_KEYWORDS", "KV cache")
    assert main(["digest", "--date", "2025-03-21", "--from-file", str(SEED_FEED)]) == 0
    sent = [call.at for call in fake_slack.calls_to("chat.postMessage")]
    assert len(sent) >= 3  # the parent and at least two replies in its thread
    assert all(later - earlier >= 0.3 for earlier, later in zip(sent, sent[1:], strict=False))
