"""Token rotation (the app's "token rotation" setting on): a bot token due to expire is refreshed through the
installation store, by Bolt before a request and by installed_workspaces before a job, through SLACK_API_URL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from bot.app import installed_workspaces
from tests.slack_requests import event_body, post
from tests.workspaces_oauth.conftest import SECOND, SECOND_USER

HOUR, TWELVE_HOURS = 3600, 43_200


def _stored_tokens(store) -> set[str]:
    with store.engine.connect() as connection:
        bots = connection.execute(text("SELECT bot_token FROM slack_bots")).scalars().all()
        installs = connection.execute(text("SELECT bot_token FROM slack_installations")).scalars().all()
    return set(bots) | set(installs)


def _refreshes(fake_slack) -> list:
    return [c for c in fake_slack.calls_to("oauth.v2.access", ok=None) if c.args.get("grant_type") == "refresh_token"]


@pytest.fixture
def rotating_install(oauth_server, fake_slack):
    """SECOND installed with rotation on, its token expiring within the hour (inside Bolt's 2-hour margin);
    the tokens Slack issues from now on live 12 hours."""
    fake_slack.rotation, fake_slack.token_lifetime = True, HOUR
    oauth_server.install(fake_slack, SECOND)
    fake_slack.token_lifetime = TWELVE_HOURS
    first, = fake_slack.tokens_of(SECOND)
    return first


def _open_home(oauth_server, event_id: str):
    body = event_body({"type": "app_home_opened", "user": SECOND_USER, "tab": "home"}, team_id=SECOND,
                      event_id=event_id)
    return post(f"{oauth_server.url}/slack/events", body, content_type="application/json")


def test_a_request_refreshes_a_token_about_to_expire_and_runs_on_the_new_one(oauth_server, fake_slack, store,
                                                                             rotating_install, listener_work):
    assert rotating_install.startswith("xoxe.xoxb-") and _stored_tokens(store) == {rotating_install}
    fake_slack.expire(rotating_install)  # the old token no longer works at all
    assert _open_home(oauth_server, "EvRot1").status_code == 200
    published, = fake_slack.wait_for("views.publish")
    assert listener_work.wait_idle()
    refresh, = _refreshes(fake_slack)
    assert refresh.ok and refresh.team == SECOND
    new, = set(fake_slack.tokens_of(SECOND)) - {rotating_install}
    assert published.ok and published.team == SECOND
    assert _stored_tokens(store) == {new}  # saved through the installation store, both tables


def test_a_token_far_from_expiry_is_not_refreshed(oauth_server, fake_slack, store):
    fake_slack.rotation = True  # 12-hour tokens from the start
    oauth_server.install(fake_slack, SECOND)
    assert _open_home(oauth_server, "EvRot2").status_code == 200
    assert fake_slack.wait_for("views.publish")
    assert not _refreshes(fake_slack)


def test_installed_workspaces_refreshes_a_due_token_once(oauth_server, fake_slack, store, rotating_install):
    settings = oauth_server.services.settings
    (team, token), = installed_workspaces(settings, store)
    assert team == SECOND and token != rotating_install and _stored_tokens(store) == {token}
    assert installed_workspaces(settings, store) == [(SECOND, token)]  # now 12 hours left: kept
    assert len(_refreshes(fake_slack)) == 1


def test_a_refresh_slack_refuses_leaves_the_workspace_out_and_its_requests_unanswered(
        oauth_server, fake_slack, store, rotating_install, listener_work, caplog):
    fake_slack.faults["oauth.v2.access"] = ["invalid_refresh_token"] * 2
    caplog.set_level(logging.ERROR, logger="handlers.oauth")
    assert installed_workspaces(oauth_server.services.settings, store) == []
    assert any("Slack refused to refresh its bot token" in r.getMessage() for r in caplog.records)
    assert _open_home(oauth_server, "EvRot3").status_code == 200
    assert listener_work.wait_idle()
    assert not fake_slack.calls_to("views.publish", ok=None)
    assert _stored_tokens(store) == {rotating_install}
