"""`app_uninstalled` and `tokens_revoked`: the workspace's installation is deleted, the rest of the app is told
(bot.installs.on_workspace_uninstalled), and its later requests get nothing; other workspaces go on."""

from __future__ import annotations

import logging

import pytest

from bot.app import installed_workspaces
from handlers.oauth import NOT_INSTALLED
from tests.slack_requests import event_body, post, slash_command_body
from tests.workspaces_oauth.conftest import SECOND, SECOND_CHANNEL, SECOND_USER

FOURTH = "T0FOURTH"


@pytest.fixture
def two_installed(oauth_server, fake_slack):
    fake_slack.add_workspace(FOURTH, channels=("C0FOURTH",), users=("U0DEE",))
    oauth_server.install(fake_slack, SECOND)
    oauth_server.install(fake_slack, FOURTH)
    return oauth_server


def _event(server, event: dict, *, team: str, event_id: str):
    body = event_body(event, team_id=team, event_id=event_id)
    return post(f"{server.url}/slack/events", body, content_type="application/json")


def _installed_teams(server) -> list[str]:
    return [team for team, _ in installed_workspaces(server.services.settings, server.services.store)]


def test_an_uninstall_deletes_the_installation_and_later_requests_get_nothing(two_installed, fake_slack,
                                                                              listener_work, caplog):
    caplog.set_level(logging.INFO, logger="bot.installs")
    fake_slack.revoke(SECOND)  # Slack revokes the tokens, then tells the app
    response = _event(two_installed, {"type": "app_uninstalled"}, team=SECOND, event_id="EvGone1")
    assert response.status_code == 200
    assert _installed_teams(two_installed) == [FOURTH]
    told, = [r.getMessage() for r in caplog.records if r.name == "bot.installs"]
    assert told.startswith(f"workspace {SECOND} left at ")

    calls_before = len(fake_slack.calls)
    body = slash_command_body("sparse", team_id=SECOND, channel_id=SECOND_CHANNEL, user_id=SECOND_USER,
                              response_url=fake_slack.response_url("after"))
    assert post(f"{two_installed.url}/slack/events", body).status_code == 200
    assert listener_work.wait_idle()
    answer, = [c.args for c in fake_slack.calls[calls_before:]]  # only Bolt's line at the response_url
    assert answer["text"] == NOT_INSTALLED


def test_the_other_workspace_goes_on_after_one_uninstalls(two_installed, fake_slack):
    _event(two_installed, {"type": "app_uninstalled"}, team=SECOND, event_id="EvGone2")
    _event(two_installed, {"type": "app_home_opened", "user": "U0DEE", "tab": "home"}, team=FOURTH,
           event_id="EvHome6")
    published, = fake_slack.wait_for("views.publish")
    assert published.team == FOURTH


def test_a_revoked_bot_token_forgets_the_workspace(two_installed, fake_slack):
    event = {"type": "tokens_revoked", "tokens": {"bot": [fake_slack.bot_user_of(SECOND)]}}
    assert _event(two_installed, event, team=SECOND, event_id="EvRevoked1").status_code == 200
    assert _installed_teams(two_installed) == [FOURTH]


def test_revoked_user_tokens_alone_keep_the_bot(two_installed, fake_slack):
    event = {"type": "tokens_revoked", "tokens": {"oauth": ["U0ADMIN"]}}
    assert _event(two_installed, event, team=SECOND, event_id="EvRevoked2").status_code == 200
    assert _installed_teams(two_installed) == [FOURTH, SECOND]


def test_an_uninstall_event_that_is_not_signed_deletes_nothing(two_installed):
    body = event_body({"type": "app_uninstalled"}, team_id=SECOND, event_id="EvForged")
    response = post(f"{two_installed.url}/slack/events", body, content_type="application/json", secret="guessed")
    assert response.status_code == 401
    assert _installed_teams(two_installed) == [FOURTH, SECOND]


def test_a_workspace_reinstalled_after_an_uninstall_is_served_again(two_installed, fake_slack):
    _event(two_installed, {"type": "app_uninstalled"}, team=SECOND, event_id="EvGone3")
    two_installed.install(fake_slack, SECOND)
    _event(two_installed, {"type": "app_home_opened", "user": SECOND_USER, "tab": "home"}, team=SECOND,
           event_id="EvHome7")
    published, = fake_slack.wait_for("views.publish")
    assert published.team == SECOND and published.ok
