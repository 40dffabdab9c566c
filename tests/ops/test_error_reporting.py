"""SENTRY_DSN, opt-in: an exception in a listener reaches Sentry (a loopback fake of its ingest endpoint) with its
type and first line, and without what the user typed, the log message's arguments, local variables or tokens.
Without the DSN, sentry-sdk is never initialised."""

from __future__ import annotations

import json
import logging

import pytest
import sentry_sdk

from bot import cli, search
from bot.error_reporting import init_error_reporting, scrub_breadcrumb, scrub_event
from bot.logs import RedactSecrets
from tests.fakes.sentry_ingest import FakeSentry
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET, post, slash_command_body

REDACT = RedactSecrets((BOT_TOKEN, SIGNING_SECRET)).redact
USER_TEXT = "zebra quokka"


@pytest.fixture
def sentry():
    fake = FakeSentry().start()
    yield fake
    sentry_sdk.get_client().close(timeout=2)
    sentry_sdk.get_global_scope().set_client(None)  # back to sentry-sdk's no-op client for the next tests
    fake.stop()


def test_without_a_dsn_sentry_is_not_initialised(env, monkeypatch):
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    assert cli.main(["db", "upgrade"]) == 0
    assert not sentry_sdk.is_initialized()
    assert init_error_reporting(None, REDACT) is False and not sentry_sdk.is_initialized()


def test_the_cli_initialises_sentry_from_sentry_dsn(env, sentry, monkeypatch):
    monkeypatch.setenv("SENTRY_DSN", sentry.dsn)
    assert cli.main(["db", "upgrade"]) == 0
    client = sentry_sdk.get_client()
    assert sentry_sdk.is_initialized()
    assert client.options["send_default_pii"] is False and client.options["include_local_variables"] is False
    assert client.options["release"].startswith("papers-bot@")


def test_an_exception_in_a_listener_is_reported_without_user_text_or_tokens(sentry, slack_server, fake_slack,
                                                                             listener_work, monkeypatch):
    assert init_error_reporting(sentry.dsn, REDACT)

    def broken_search(session_factory, *, query, **kwargs):
        # As SQLAlchemy words a failed statement: the driver's line, then the SQL and its parameters.
        raise RuntimeError(f"index failed under {BOT_TOKEN}\n[SQL: SELECT 1 WHERE q = ?]\n[parameters: ('{query}',)]")

    monkeypatch.setattr(search, "run_search", broken_search)
    post(f"{slack_server}/slack/events", slash_command_body(USER_TEXT, response_url=fake_slack.response_url()))
    [reply] = fake_slack.wait_for("response_url")
    assert reply.args["text"].startswith("Sorry")
    assert listener_work.wait_idle()
    sentry_sdk.flush(timeout=5)

    [event] = sentry.wait_for_events(1)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "index failed under [redacted]"
    assert event["logentry"] == {"message": "%s failed", "params": []}
    frames = exception["stacktrace"]["frames"]
    assert any(frame["function"] == "search_reply" for frame in frames)
    assert not any("vars" in frame for frame in frames)
    # (the frames' source lines are sent: code, not data; `[parameters` appears there, never with the value)
    sent = b"".join(sentry.envelopes).decode()
    for leak in (*USER_TEXT.split(), BOT_TOKEN, SIGNING_SECRET):
        assert leak not in sent, leak


def test_scrubbing_keeps_templates_and_first_lines_and_drops_the_rest():
    event = {
        "exception": {"values": [{"type": "OperationalError", "value": f"no such table: reads {BOT_TOKEN}\n[SQL: x]",
                                  "stacktrace": {"frames": [{"function": "f", "vars": {"query": USER_TEXT}}]}}]},
        "logentry": {"message": "search for %r failed", "params": [USER_TEXT], "formatted": f"search for {USER_TEXT}"},
        "extra": {"query": USER_TEXT}, "request": {"data": USER_TEXT}, "user": {"id": "U0ALICE"},
        # a breadcrumb arrives here already cut to its template (scrub_breadcrumb), then is redacted again
        "breadcrumbs": {"values": [{"message": f"refused {BOT_TOKEN}", "data": {"q": USER_TEXT}}]},
    }
    scrubbed = json.dumps(scrub_event(event, None, REDACT))
    assert USER_TEXT not in scrubbed and BOT_TOKEN not in scrubbed and "U0ALICE" not in scrubbed
    assert "no such table: reads [redacted]" in scrubbed and "search for %r failed" in scrubbed
    assert "refused [redacted]" in scrubbed


def test_a_log_breadcrumb_keeps_the_template_not_the_arguments():
    record = logging.LogRecord("bot.follows", logging.WARNING, __file__, 1, "follow %d no longer parses: %r",
                               (3, USER_TEXT), None)
    crumb = scrub_breadcrumb({"message": record.getMessage(), "data": {"x": 1}}, {"log_record": record}, REDACT)
    assert crumb == {"message": "follow %d no longer parses: %r"}
    # and after the logs' redaction formatted the record in place
    RedactSecrets((BOT_TOKEN,)).filter(record)
    assert record.getMessage() == f"follow 3 no longer parses: {USER_TEXT!r}"
    crumb = scrub_breadcrumb({"message": record.getMessage()}, {"log_record": record}, REDACT)
    assert crumb == {"message": "follow %d no longer parses: %r"}


def test_a_malformed_dsn_is_one_line_naming_the_setting(env, monkeypatch, capsys):
    monkeypatch.setenv("SENTRY_DSN", "sentry-key-not-a-url")
    assert cli.main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("papers-bot: SENTRY_DSN is not a Sentry DSN") and "sentry-key-not-a-url" not in err
    assert not sentry_sdk.is_initialized()
