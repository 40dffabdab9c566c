"""OAuth settings: both or neither, each mistake one line naming the variable, the secret never shown or logged;
the install pages say so when the database fails; the app asks each workspace for the manifest's scopes."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
import requests
import yaml
from sqlalchemy.exc import OperationalError

from bot.cli import main
from bot.config import ConfigError, Settings
from bot.logs import RedactSecrets
from handlers.oauth import BOT_SCOPES
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET
from tests.slack_requests import event_body, post
from tests.workspaces_oauth.conftest import SECOND, SECOND_USER

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"


def test_oauth_is_on_with_both_credentials_and_off_without():
    on = Settings.from_env({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET})
    assert on.oauth_enabled and on.slack_client_id == CLIENT_ID
    assert not Settings.from_env({}).oauth_enabled
    assert CLIENT_SECRET not in repr(on)


@pytest.mark.parametrize(("env", "message"), [
    ({"SLACK_CLIENT_ID": CLIENT_ID}, "SLACK_CLIENT_SECRET is not set; installing into many workspaces needs both"),
    ({"SLACK_CLIENT_SECRET": CLIENT_SECRET}, "SLACK_CLIENT_ID is not set"),
    ({"SLACK_CLIENT_ID": "my app", "SLACK_CLIENT_SECRET": CLIENT_SECRET}, "SLACK_CLIENT_ID must look like"),
    ({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": "has spaces in it"}, "SLACK_CLIENT_SECRET must be"),
    ({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_REDIRECT_URI": "/slack/oauth"},
     "SLACK_REDIRECT_URI must be the full https:// URL"),
    ({"SLACK_REDIRECT_URI": "https://bot.example.org/slack/oauth_redirect"}, "SLACK_REDIRECT_URI is set but"),
])
def test_a_bad_oauth_setting_is_one_line_naming_it(env, message):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_a_malformed_secret_is_not_echoed():
    secret = "abc def ghi-the-real-secret"
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": secret})
    assert "the-real-secret" not in str(raised.value)


def test_serve_refuses_oauth_in_socket_mode_in_one_line(env, monkeypatch, capsys):
    for name, value in {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
                        "SLACK_APP_TOKEN": "xapp-1-not-real"}.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "--no-scheduler"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "served over HTTP, not Socket Mode" in err


def test_the_app_asks_for_the_manifests_bot_scopes():
    assert set(BOT_SCOPES) == set(yaml.safe_load(MANIFEST.read_text())["oauth_config"]["scopes"]["bot"])


def test_the_install_pages_answer_a_page_when_the_database_fails(oauth_server, monkeypatch):
    def unreachable():
        raise OperationalError("INSERT INTO slack_oauth_states", {}, ConnectionError("server closed the connection"))

    monkeypatch.setattr(oauth_server.bolt.oauth_flow.settings.state_store, "issue", unreachable)
    page = requests.get(f"{oauth_server.url}/slack/install", timeout=10)
    assert page.status_code == 503 and "Nothing was installed; please try again in a minute" in page.text
    assert "Traceback" not in page.text and "INSERT" not in page.text


def test_no_secret_or_token_reaches_the_logs_of_an_install_a_request_and_a_refresh(oauth_server, fake_slack):
    """Everything logged at DEBUG (Bolt's and slack_sdk's own lines included), through the CLI's redaction."""
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.addFilter(RedactSecrets([CLIENT_SECRET]))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        fake_slack.rotation, fake_slack.token_lifetime = True, 3600  # refreshed at the first request
        oauth_server.install(fake_slack, SECOND)
        body = event_body({"type": "app_home_opened", "user": SECOND_USER, "tab": "home"}, team_id=SECOND)
        post(f"{oauth_server.url}/slack/events", body, content_type="application/json")
        assert fake_slack.wait_for("views.publish")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logged = written.getvalue()
    tokens = fake_slack.tokens_of(SECOND)
    assert len(tokens) == 2 and "installed into workspace T0SECOND" in logged
    for secret in [CLIENT_SECRET, *tokens, "xoxe-1-refresh"]:
        assert secret.removeprefix("xoxe.") not in logged
