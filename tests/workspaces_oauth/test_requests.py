"""Each request runs on its own workspace's installation: a workspace that installed is answered with its own
token, one that never did gets nothing but the one "not installed" line, and no token of another workspace is
ever used for it. With SLACK_BOT_TOKEN set too, that token's workspace is served until it installs."""

from __future__ import annotations

import json

import pytest

from bot.app import Services, SlackUnavailable, build_bolt_app
from bot.config import Settings
from handlers.oauth import NOT_INSTALLED
from tests.conftest import serve_bolt
from tests.fakes.slack_api import BOT_TOKEN, TEAM_ID
from tests.slack_requests import event_body, post, slash_command_body
from tests.workspaces_oauth.conftest import (
    SECOND,
    SECOND_CHANNEL,
    SECOND_USER,
    THIRD,
    THIRD_CHANNEL,
    THIRD_USER,
    OAuthServer,
)


def _search(oauth_server, fake_slack, *, team: str, channel: str, user: str, key: str):
    body = slash_command_body("sparse attention", team_id=team, channel_id=channel, user_id=user,
                              response_url=fake_slack.response_url(key))
    return post(f"{oauth_server.url}/slack/events", body)


def _answers(fake_slack, key: str) -> list[dict]:
    return [c.args for c in fake_slack.calls_to("response_url") if c.path.endswith(f"/{key}")]


def _home_opened(oauth_server, *, team: str, user: str, event_id: str):
    body = event_body({"type": "app_home_opened", "user": user, "tab": "home"}, team_id=team, event_id=event_id)
    return post(f"{oauth_server.url}/slack/events", body, content_type="application/json")


def test_a_command_from_the_installed_workspace_is_answered_with_its_own_token(oauth_server, fake_slack,
                                                                                listener_work):
    oauth_server.install(fake_slack, SECOND)
    token, = fake_slack.tokens_of(SECOND)
    assert _search(oauth_server, fake_slack, team=SECOND, channel=SECOND_CHANNEL, user=SECOND_USER,
                   key="second").status_code == 200
    assert listener_work.wait_idle()
    answer, = _answers(fake_slack, "second")
    assert "sparse" in json.dumps(answer).lower() and NOT_INSTALLED not in json.dumps(answer)
    checks = [c for c in fake_slack.calls_to("auth.test", ok=None) if c.team == SECOND]
    assert checks and all(c.ok for c in checks)  # the request was authorized with SECOND's token


def test_the_app_home_of_the_installed_workspace_is_published_with_its_token(oauth_server, fake_slack,
                                                                              listener_work):
    oauth_server.install(fake_slack, SECOND)
    assert _home_opened(oauth_server, team=SECOND, user=SECOND_USER, event_id="EvHome2").status_code == 200
    published, = fake_slack.wait_for("views.publish")
    assert published.team == SECOND and published.args["user_id"] == SECOND_USER
    assert listener_work.wait_idle()
    # Every Web API call made for that request used SECOND's token, and Slack accepted each.
    made = [c for c in fake_slack.calls if c.method not in ("response_url", "oauth.v2.access")]
    assert made and {c.team for c in made} == {SECOND} and all(c.ok for c in made)


def test_a_workspace_that_never_installed_gets_nothing(oauth_server, fake_slack, listener_work):
    oauth_server.install(fake_slack, SECOND)
    calls_before = len(fake_slack.calls)
    response = _search(oauth_server, fake_slack, team=THIRD, channel=THIRD_CHANNEL, user=THIRD_USER, key="third")
    assert response.status_code == 200 and response.text == ""
    home = _home_opened(oauth_server, team=THIRD, user=THIRD_USER, event_id="EvHome3")
    assert home.status_code == 200  # Slack ignores an event's answer; a 5xx would make it retry
    assert listener_work.wait_idle()
    answer, = _answers(fake_slack, "third")  # Bolt's one line, said only to the user who typed the command
    assert NOT_INSTALLED in answer["text"] and "sparse" not in json.dumps(answer).lower()
    later = fake_slack.calls[calls_before:]
    assert [c.method for c in later] == ["response_url"]  # no Web API call at all, with anyone's token


def test_in_oauth_mode_the_single_token_workspace_must_install_too(oauth_server, fake_slack, listener_work):
    response = _search(oauth_server, fake_slack, team=TEAM_ID, channel="C0DIGEST", user="U0ALICE", key="home")
    assert response.status_code == 200
    assert listener_work.wait_idle()
    answer, = _answers(fake_slack, "home")
    assert NOT_INSTALLED in answer["text"]


def test_two_installed_workspaces_each_use_their_own_token(oauth_server, fake_slack, listener_work):
    fake_slack.add_workspace("T0FOURTH", channels=("C0FOURTH",), users=("U0DEE",))
    oauth_server.install(fake_slack, SECOND)
    oauth_server.install(fake_slack, "T0FOURTH")
    _home_opened(oauth_server, team="T0FOURTH", user="U0DEE", event_id="EvHome4")
    _home_opened(oauth_server, team=SECOND, user=SECOND_USER, event_id="EvHome5")
    published = fake_slack.wait_for("views.publish", 2)
    assert {(c.team, c.args["user_id"]) for c in published} == {("T0FOURTH", "U0DEE"), (SECOND, SECOND_USER)}
    assert listener_work.wait_idle()
    assert not fake_slack.calls_to("views.publish", ok=False)


def test_turning_oauth_on_keeps_serving_the_bot_token_workspace_until_it_installs(
        oauth_env, store, fake_slack, listener_work):
    """SLACK_BOT_TOKEN and OAuth together: the workspace already using the app is not cut off."""
    settings = Settings.from_env({**oauth_env, "SLACK_BOT_TOKEN": BOT_TOKEN})
    fake_slack.add_workspace(SECOND, channels=(SECOND_CHANNEL,), users=(SECOND_USER,))
    with serve_bolt(Services(settings=settings, store=store), listener_work) as (url, bolt):
        running = OAuthServer(url, None, bolt)
        running.install(fake_slack, SECOND)
        _home_opened(running, team=TEAM_ID, user="U0ALICE", event_id="EvHomeOld")
        _home_opened(running, team=SECOND, user=SECOND_USER, event_id="EvHomeNew")
        published = fake_slack.wait_for("views.publish", 2)
        assert {(c.team, c.args["user_id"]) for c in published} == {(TEAM_ID, "U0ALICE"), (SECOND, SECOND_USER)}
        _home_opened(running, team=THIRD, user=THIRD_USER, event_id="EvHomeNever")
        assert listener_work.wait_idle()
        assert len(fake_slack.calls_to("views.publish", ok=None)) == 2  # the third still gets nothing


def test_a_refused_bot_token_stops_an_oauth_server_at_start_in_one_line(oauth_env, store, fake_slack):
    settings = Settings.from_env({**oauth_env, "SLACK_BOT_TOKEN": "xoxb-revoked-long-ago"})
    with pytest.raises(SlackUnavailable, match=r"^Slack refused SLACK_BOT_TOKEN at start-up \(invalid_auth\)$"):
        build_bolt_app(Services(settings=settings, store=store))
