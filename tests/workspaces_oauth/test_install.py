"""Installing into another workspace through /slack/install and /slack/oauth_redirect, and every way an install
can go wrong: each refusal is a short page saying why, never a traceback, and stores nothing."""

from __future__ import annotations

import requests
from sqlalchemy import text

from bot.app import installed_workspaces
from tests.fakes.slack_api import CLIENT_ID
from tests.workspaces_oauth.conftest import SECOND

REFUSED_PAGE = "papers-bot was not installed"


def _stored(store) -> list[tuple]:
    with store.engine.connect() as connection:
        return connection.execute(text(
            "SELECT team_id, team_name, bot_user_id, client_id FROM slack_bots ORDER BY id")).all()


def test_the_install_page_links_to_slacks_authorize_page_with_a_state_and_the_apps_scopes(oauth_server):
    browser = requests.Session()
    page, state = oauth_server.install_page(browser)
    assert page.status_code == 200 and "Add to Slack" in page.text
    assert "<title>Add papers-bot to Slack</title>" in page.text and "new arXiv papers" in page.text
    assert f"client_id={CLIENT_ID}" in page.text and "scope=commands,chat:write" in page.text
    assert browser.cookies.get("slack-app-oauth-state") == state  # the state is tied to this browser


def test_an_admin_installs_a_second_workspace_and_its_installation_is_stored(oauth_server, fake_slack, store):
    page = oauth_server.install(fake_slack, SECOND)
    assert page.status_code == 200 and "Thank you" in page.text
    assert _stored(store) == [(SECOND, "Second Lab", fake_slack.bot_user_of(SECOND), CLIENT_ID)]
    exchange, = fake_slack.calls_to("oauth.v2.access")  # through SLACK_API_URL, with the app's credentials
    token, = fake_slack.tokens_of(SECOND)
    assert installed_workspaces(oauth_server.services.settings, store) == [(SECOND, token)]


def test_a_used_state_is_refused_with_a_page_and_nothing_more_is_installed(oauth_server, fake_slack, store):
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    assert oauth_server.redirect(browser, code=fake_slack.approve(SECOND), state=state).status_code == 200
    # The success page cleared the browser's state cookie: the same browser going back is refused ...
    back = oauth_server.redirect(browser, code=fake_slack.approve("T0OTHER"), state=state)
    assert back.status_code == 400 and "its link was already used" in back.text
    # ... and so is someone who copied the cookie too: the state itself was consumed.
    replay = requests.Session()
    replay.cookies.set("slack-app-oauth-state", state)
    again = oauth_server.redirect(replay, code=fake_slack.approve("T0OTHER"), state=state)
    assert again.status_code == 401
    assert REFUSED_PAGE in again.text and "expired (after ten minutes) or was already used" in again.text
    assert "Traceback" not in again.text + back.text
    assert len(fake_slack.calls_to("oauth.v2.access", ok=None)) == 1  # the later codes were never exchanged
    assert [row[0] for row in _stored(store)] == [SECOND]


def test_a_made_up_state_is_refused(oauth_server, fake_slack, store):
    browser = requests.Session()
    oauth_server.install_page(browser)
    browser.cookies.set("slack-app-oauth-state", "made-up-state")
    page = oauth_server.redirect(browser, code=fake_slack.approve(SECOND), state="made-up-state")
    assert page.status_code == 401 and "expired (after ten minutes) or was already used" in page.text
    assert not fake_slack.calls_to("oauth.v2.access", ok=None) and not _stored(store)


def test_an_expired_state_is_refused(oauth_server, fake_slack, store):
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    with store.engine.begin() as connection:  # eleven minutes later
        connection.execute(text("UPDATE slack_oauth_states SET expire_at = :past"), {"past": "2000-01-01 00:00:00"})
    page = oauth_server.redirect(browser, code=fake_slack.approve(SECOND), state=state)
    assert page.status_code == 401 and REFUSED_PAGE in page.text and not _stored(store)


def test_a_redirect_in_another_browser_than_the_install_page_is_refused(oauth_server, fake_slack, store):
    _, state = oauth_server.install_page(requests.Session())
    page = oauth_server.redirect(requests.Session(), code=fake_slack.approve(SECOND), state=state)
    assert page.status_code == 400 and "started in another browser" in page.text and not _stored(store)


def test_a_code_slack_does_not_confirm_is_refused(oauth_server, fake_slack, store):
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    page = oauth_server.redirect(browser, code="code-nobody-approved", state=state)
    assert page.status_code == 401 and "Slack did not confirm this install" in page.text and not _stored(store)


def test_an_install_cancelled_in_slack_says_so(oauth_server, store):
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    page = oauth_server.redirect(browser, error="access_denied", state=state)
    assert page.status_code == 200 and "cancelled in Slack" in page.text and not _stored(store)


def test_an_error_sent_back_in_the_url_is_shown_escaped(oauth_server):
    page = oauth_server.redirect(requests.Session(), error="<script>alert(1)</script>")
    assert REFUSED_PAGE in page.text
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_reinstalling_a_workspace_keeps_one_bot_and_uses_the_new_token(oauth_server, fake_slack, store):
    oauth_server.install(fake_slack, SECOND)
    oauth_server.install(fake_slack, SECOND)
    first, second = fake_slack.tokens_of(SECOND)
    assert installed_workspaces(oauth_server.services.settings, store) == [(SECOND, second)]


def test_without_oauth_the_install_paths_are_not_served(slack_server):
    assert requests.get(f"{slack_server}/slack/install", timeout=5).status_code == 404
    assert requests.get(f"{slack_server}/slack/oauth_redirect", timeout=5).status_code == 404


def test_without_oauth_no_workspace_is_listed_as_installed(slack_settings, store):
    assert installed_workspaces(slack_settings, store) == []
