"""The database going away under an OAuth-mode server: the installation cannot be looked up, so the request is
acked without a 5xx and the user (of a command) gets a short apology; nothing leaks."""

from __future__ import annotations

import pytest

from bot.app import Services, build_bolt_app, build_store, build_wsgi_app, make_http_server
from bot.config import Settings
from tests.conftest import run_server_in_thread
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET
from tests.slack_requests import SIGNING_SECRET, event_body, post, slash_command_body
from tests.workspaces_oauth.conftest import SECOND, SECOND_CHANNEL, SECOND_USER

LEAKS = ("Traceback", "OperationalError", "sqlalchemy", "psycopg", "127.0.0.1", "postgres", "sqlite", "SELECT")


@pytest.fixture(params=["postgres-refused", "sqlite-gone"])
def down_server(request, tmp_path, fake_slack):
    url = {"postgres-refused": "postgresql+psycopg://postgres@127.0.0.1:1/papers",
           "sqlite-gone": f"sqlite:///{tmp_path}/removed-directory/papers.db"}[request.param]
    settings = Settings(database_url=url, slack_client_id=CLIENT_ID, slack_client_secret=CLIENT_SECRET,
                        slack_signing_secret=SIGNING_SECRET, slack_api_url=fake_slack.base_url,
                        database_connect_timeout_seconds=1)
    store = build_store(settings, migrate=False)
    server = make_http_server(build_wsgi_app(build_bolt_app(Services(settings=settings, store=store)), store),
                              host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    yield f"http://127.0.0.1:{server.effective_port}"
    stop()
    store.engine.dispose()


def test_a_command_gets_a_short_apology_and_no_5xx(down_server, fake_slack):
    body = slash_command_body("kv cache", team_id=SECOND, channel_id=SECOND_CHANNEL, user_id=SECOND_USER,
                              response_url=fake_slack.response_url("down"))
    response = post(f"{down_server}/slack/events", body)
    assert response.status_code == 200
    answer, = fake_slack.wait_for("response_url")
    assert answer.args["text"].startswith("Sorry") and "try again" in answer.args["text"]
    assert not any(leak.lower() in (answer.args["text"] + response.text).lower() for leak in LEAKS)


def test_an_event_is_acked_without_a_5xx(down_server):
    body = event_body({"type": "app_home_opened", "user": SECOND_USER, "tab": "home"}, team_id=SECOND)
    response = post(f"{down_server}/slack/events", body, content_type="application/json")
    assert response.status_code == 200
    assert not any(leak.lower() in response.text.lower() for leak in LEAKS)
