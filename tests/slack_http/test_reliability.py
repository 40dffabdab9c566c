"""Hostile requests, secrets in logs, and the database going away: each gets a clear answer."""

from __future__ import annotations

import logging

from bot.cli import main
from bot.logs import configure_logging
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET, event_body, post, slash_command_body


def test_wrong_content_type_is_refused_before_anything_runs(slack_server, fake_slack):
    body = slash_command_body("help", response_url=fake_slack.response_url())
    response = post(f"{slack_server}/slack/events", body, content_type="text/plain")
    assert response.status_code == 415
    assert [c.method for c in fake_slack.calls] == ["auth.test"]  # the start-up check only



def test_forged_retry_is_still_refused(slack_server):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    response = post(f"{slack_server}/slack/events", body, content_type="application/json", secret="forged",
                    extra_headers={"X-Slack-Retry-Num": "1"})
    assert response.status_code == 401


def test_secrets_never_reach_logs_or_replies(slack_server, fake_slack, capsys):
    # The logging the CLI installs, at DEBUG, while Slack refuses the token and a forged request arrives.
    # (tests/conftest.py takes the handler configure_logging adds away after the test.)
    configure_logging("DEBUG", secrets=[BOT_TOKEN, SIGNING_SECRET])
    fake_slack.token = "xoxb-some-other-token"  # every Web API call now fails with invalid_auth
    body = slash_command_body("help", response_url=fake_slack.response_url())
    response = post(f"{slack_server}/slack/events", body)
    bad = post(f"{slack_server}/slack/events", body, secret="forged")
    fake_slack.wait_for("response_url")
    logging.getLogger("test").error("leak attempt %s / %s", BOT_TOKEN, SIGNING_SECRET)
    err = capsys.readouterr().err
    assert "slack_bolt" in err or "slack_sdk" in err  # the libraries' debug lines were captured
    assert BOT_TOKEN not in err + response.text + bad.text
    assert SIGNING_SECRET not in err + response.text + bad.text
    assert "leak attempt [redacted] / [redacted]" in err


def test_token_shaped_strings_are_redacted_by_the_cli_logging(capsys):
    configure_logging("INFO", secrets=["my-signing-secret-value"])
    logging.getLogger("x").warning("got xoxb-123-456-abc and my-signing-secret-value in an error")
    err = capsys.readouterr().err
    assert "xoxb-123" not in err and "my-signing-secret-value" not in err
    assert err.count("[redacted]") == 2


def test_serve_with_unreachable_database_exits_with_one_line(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/papers.db")
    monkeypatch.setenv("SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SIGNING_SECRET)
    assert main(["serve", "--no-scheduler"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("papers-bot: cannot open the database ")
    assert err[-1].endswith("missing-dir/papers.db: unable to open database file")


def test_postgres_down_at_start_is_a_clear_error_not_a_hang(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    assert main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("papers-bot: cannot open the database:")
    assert "Traceback" not in err



def test_database_dying_mid_command_is_one_line_not_a_traceback(env, monkeypatch, capsys):
    from sqlalchemy.exc import OperationalError

    from bot import digest

    def connection_lost(*args, **kwargs):
        raise OperationalError("SELECT …", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(digest, "select_digest", connection_lost)
    assert main(["digest", "--dry-run", "--no-fetch", "--date", "2025-03-21"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "papers-bot: the database failed mid-command (server closed the connection unexpectedly); "
        "nothing half-written was kept, run the command again"
    )


def test_serve_with_a_token_slack_refuses_says_so_at_start(slack_env, fake_slack, monkeypatch, capsys):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-revoked-token-value")
    assert main(["serve", "--no-scheduler", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "papers-bot: Slack refused SLACK_BOT_TOKEN at start-up (invalid_auth)"
    assert "xoxb-revoked-token-value" not in "\n".join(err)


def test_auth_test_runs_once_at_start_not_per_request(slack_server, fake_slack):
    for _ in range(3):
        body = slash_command_body("help", response_url=fake_slack.response_url())
        assert post(f"{slack_server}/slack/events", body).status_code == 200
    fake_slack.wait_for("response_url", 3)
    assert len(fake_slack.calls_to("auth.test", ok=None)) == 1
