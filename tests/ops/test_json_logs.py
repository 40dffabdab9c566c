"""LOG_FORMAT=json: one JSON object a line with time, level, logger and message, plus the workspace and request
id inside a Slack request; tokens are redacted exactly as in the plain format; plain text stays the default."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import pytest

from bot import cli, search
from bot.config import ConfigError, Settings
from bot.logs import CurrentStderr, configure_logging, request_scope
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID
from tests.slack_requests import SIGNING_SECRET, post, slash_command_body

SECRETS = (BOT_TOKEN, SIGNING_SECRET)


class Captured:
    """What the handler configure_logging makes writes: it is pointed at a buffer of its own."""

    def __init__(self):
        self.buffer = io.StringIO()

    def configure(self, log_format: str = "text") -> None:
        configure_logging("INFO", SECRETS, log_format=log_format)
        [handler] = [h for h in logging.getLogger().handlers if type(h) is CurrentStderr]
        assert handler.stream is sys.stderr  # where a deployment's lines go
        handler.setStream(self.buffer)

    def getvalue(self) -> str:
        return self.buffer.getvalue()


@pytest.fixture
def stderr():
    """(tests/conftest.py puts the root logger's handlers and level back after every test.)"""
    return Captured()


def lines(stream: Captured) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_records_go_to_the_current_stderr_after_the_old_one_was_swapped_and_closed(stderr, monkeypatch, capfd):
    configure_logging("INFO", SECRETS)
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logging.getLogger("bot.digest").warning("one")
    first.close()  # as a finished capture or a host's rotated stream is
    monkeypatch.setattr(sys, "stderr", second)
    logging.getLogger("bot.digest").warning("two")
    assert second.getvalue().endswith("WARNING bot.digest: two\n")
    assert "Logging error" not in capfd.readouterr().err


def test_each_record_is_one_json_object_with_time_level_logger_and_message(stderr):
    stderr.configure("json")
    logging.getLogger("bot.digest").warning("digest %s to %s: %s", "2025-03-21", "C0DIGEST", "posted")
    [entry] = lines(stderr)
    assert entry["level"] == "WARNING" and entry["logger"] == "bot.digest"
    assert entry["message"] == "digest 2025-03-21 to C0DIGEST: posted"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", entry["time"])
    assert "team_id" not in entry and "request_id" not in entry  # not inside a Slack request


def test_inside_a_request_each_line_carries_the_workspace_and_request_id(stderr):
    stderr.configure("json")
    with request_scope(team_id="T0OTHER", request_id="r-123"):
        logging.getLogger("handlers.topic").info("topic edit")
    logging.getLogger("handlers.topic").info("after")
    first, after = lines(stderr)
    assert (first["team_id"], first["request_id"]) == ("T0OTHER", "r-123")
    assert "team_id" not in after


def test_a_token_in_a_message_or_a_traceback_is_redacted_in_json_too(stderr):
    stderr.configure("json")
    log = logging.getLogger("handlers.web_client")
    log.warning("Slack refused %s and xoxp-9999-not-known", BOT_TOKEN)
    try:
        raise RuntimeError(f"signing secret {SIGNING_SECRET} leaked into an error")
    except RuntimeError:
        log.exception("call failed")
    raw = stderr.getvalue()
    assert BOT_TOKEN not in raw and SIGNING_SECRET not in raw and "xoxp-9999" not in raw
    message, failure = lines(stderr)
    assert message["message"] == "Slack refused [redacted] and [redacted]"
    assert "RuntimeError: signing secret [redacted] leaked" in failure["exception"]


def test_plain_text_is_the_default_and_unchanged(stderr):
    stderr.configure()
    logging.getLogger("bot.digest").warning("posted with %s", BOT_TOKEN)
    line = stderr.getvalue().strip()
    assert re.fullmatch(r"\S+ \S+ WARNING bot\.digest: posted with \[redacted\]", line)


def test_log_format_is_checked():
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigError, match="LOG_FORMAT must be one of text, json"):
        Settings.from_env({"LOG_FORMAT": "yaml"})


def test_a_failing_slack_request_logs_json_with_its_workspace_and_request_id(stderr, slack_server, fake_slack,
                                                                             listener_work, monkeypatch):
    """Through the real server: the failure after the ack (on a listener thread) carries the request's team and
    id, and the user's token-shaped text does not leak."""
    stderr.configure("json")

    def broken_search(*args, **kwargs):
        raise RuntimeError(f"index broken while holding {BOT_TOKEN}")

    monkeypatch.setattr(search, "run_search", broken_search)
    post(f"{slack_server}/slack/events", slash_command_body("kv cache", response_url=fake_slack.response_url()))
    fake_slack.wait_for("response_url")
    assert listener_work.wait_idle()
    [failure] = [entry for entry in lines(stderr) if entry["level"] == "ERROR"]
    assert failure["team_id"] == TEAM_ID and re.fullmatch(r"[0-9a-f]{16}", failure["request_id"])
    assert failure["logger"] == "handlers.common" and "index broken while holding [redacted]" in failure["exception"]
    assert BOT_TOKEN not in stderr.getvalue()


def test_the_cli_reads_log_format(env, stderr, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    assert cli.main(["db", "upgrade"]) == 0
    configured = [h for h in logging.getLogger().handlers if type(h) is CurrentStderr]
    assert configured and type(configured[-1].formatter).__name__ == "JsonLines"
