"""Secrets on the digest path: a `papers-bot digest` run logging at DEBUG, whose Slack calls fail -- even with
an error page that quotes the bot token back -- prints neither the token nor the signing secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import SEED_FEED
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET

ARGV = [sys.executable, "-m", "bot", "-v", "digest", "--date", "2025-03-21", "--channel", "C0DIGEST",
        "--from-file", str(SEED_FEED)]


def run_digest(slack_env) -> subprocess.CompletedProcess:
    return subprocess.run(ARGV, env={**os.environ, **slack_env}, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("fault", ["500:echo", "invalid_auth", "not_in_channel"])
def test_a_failing_digest_run_at_debug_level_never_prints_a_secret(slack_env, fake_slack, fault):
    if fault == "not_in_channel":
        fake_slack.channel_errors["C0DIGEST"] = fault
    else:
        fake_slack.faults["chat.postMessage"] = [fault] * 3
    result = run_digest(slack_env)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "failed" in result.stdout
    assert "Traceback" not in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
    assert "xoxb-" not in output
    if fault == "500:echo":
        # slack_sdk logged the page that quoted the token; the log filter blanked it.
        assert "upstream error for Bearer [redacted]" in result.stderr


def test_a_successful_digest_run_at_debug_level_never_prints_a_secret(slack_env, fake_slack):
    result = run_digest(slack_env)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "posted" in result.stdout, output[-2000:]
    assert len(fake_slack.calls_to("chat.postMessage")) > 1
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
