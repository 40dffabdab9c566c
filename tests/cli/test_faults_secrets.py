"""Secrets on the digest path: a `papers-bot digest` run logging at DEBUG, whose Slack calls fail -- even with
an error page that quotes the bot token back -- prints neither the token nor the signing secret."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.cli import main
from tests.conftest import SEED_FEED
from tests.fakes.slack_api import BOT_TOKEN
from tests.slack_requests import SIGNING_SECRET

COMMAND = ["-v", "digest", "--date", "2025-03-21", "--channel", "C0DIGEST", "--from-file", str(SEED_FEED)]
# The error page that quotes the token back runs as a real process: everything a process prints, from any
# library, at start-up or exit, is what must hold no secret. The other cases run the same command in the test's
# process (the environment slack_env set) and read what it wrote to file descriptors 1 and 2.
IN_A_SUBPROCESS = {"500:echo"}


def run_digest(slack_env, capfd, *, subprocess_run: bool) -> subprocess.CompletedProcess:
    if subprocess_run:
        return subprocess.run([sys.executable, "-m", "bot", *COMMAND], env={**os.environ, **slack_env},
                              capture_output=True, text=True, timeout=120)
    capfd.readouterr()
    code = main(COMMAND)
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(["papers-bot", *COMMAND], code, out, err)


@pytest.mark.parametrize("fault", ["500:echo", "invalid_auth", "not_in_channel"])
def test_a_failing_digest_run_at_debug_level_never_prints_a_secret(slack_env, fake_slack, capfd, fault):
    if fault == "not_in_channel":
        fake_slack.channel_errors["C0DIGEST"] = fault
    else:
        fake_slack.faults["chat.postMessage"] = [fault] * 3
    result = run_digest(slack_env, capfd, subprocess_run=fault in IN_A_SUBPROCESS)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "failed" in result.stdout
    assert "Traceback" not in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output
    assert "xoxb-" not in output
    if fault == "500:echo":
        # slack_sdk logged the page that quoted the token; the log filter blanked it.
        assert "upstream error for Bearer [redacted]" in result.stderr


def test_a_successful_digest_run_at_debug_level_never_prints_a_secret(slack_env, fake_slack, capfd):
    result = run_digest(slack_env, capfd, subprocess_run=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "posted" in result.stdout, output[-2000:]
    assert len(fake_slack.calls_to("chat.postMessage")) > 1
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


DB_PASSWORD = "db-pass-not-real-7731"
DOWN_WITH_PASSWORD = f"postgresql://papers:{DB_PASSWORD}@127.0.0.1:1/papers"


def test_a_database_password_stays_out_of_the_start_up_error(monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", DOWN_WITH_PASSWORD)
    assert main(["db", "upgrade"]) == 2
    captured = capsys.readouterr()
    assert "cannot open the database" in captured.err
    assert DB_PASSWORD not in captured.out + captured.err


def test_a_database_password_stays_out_of_readyz_and_the_logs(slack_settings, fake_slack, caplog):
    import dataclasses

    import requests

    from bot.app import Services, build_bolt_app, build_store, build_wsgi_app, make_http_server
    from bot.config import normalise_database_url
    from tests.conftest import run_server_in_thread
    from tests.slack_requests import post, slash_command_body

    settings = dataclasses.replace(slack_settings, database_url=normalise_database_url(DOWN_WITH_PASSWORD))
    store = build_store(settings, migrate=False)
    server = make_http_server(build_wsgi_app(build_bolt_app(Services(settings=settings, store=store)), store),
                              host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    try:
        base = f"http://127.0.0.1:{server.effective_port}"
        health = requests.get(f"{base}/readyz", timeout=30)
        post(f"{base}/slack/events", slash_command_body("history", response_url=fake_slack.response_url()))
        [reply] = fake_slack.wait_for("response_url", 1, timeout=30)
    finally:
        stop()
        store.engine.dispose()
    assert health.status_code == 503
    seen = health.text + reply.args["text"] + caplog.text
    assert "database error while listing reads" in caplog.text  # the failure was logged, with its traceback
    assert DB_PASSWORD not in seen
