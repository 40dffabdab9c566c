"""The install pages face the internet: what anyone can send them (a crafted install link, a forged redirect,
endless page loads) must not steer Slack's authorize page, flood the logs or the database, and a Slack that
rate-limits the code exchange must not hold the installer's browser (and a server thread) for minutes."""

from __future__ import annotations

import logging
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import requests
from sqlalchemy import text

from tests.workspaces_oauth.conftest import SECOND

REFUSED_PAGE = "papers-bot was not installed"


def _authorize_query(page: requests.Response) -> dict[str, list[str]]:
    link = unescape(re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)[1])
    return parse_qs(urlparse(link).query, keep_blank_values=True)


def _states(store) -> int:
    with store.engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM slack_oauth_states")).scalar_one()


def test_a_team_in_the_install_link_cannot_add_parameters_to_slacks_authorize_page(oauth_server):
    crafted = "T0SECOND&redirect_uri=https://evil.example/callback&scope=admin&user_scope=admin"
    page = requests.get(f"{oauth_server.url}/slack/install", params={"team": crafted}, timeout=10)
    query = _authorize_query(page)
    assert "redirect_uri" not in query and query["user_scope"] == [""]
    assert len(query["scope"]) == 1 and "admin" not in query["scope"][0]
    assert "evil.example" not in page.text

    huge = requests.get(f"{oauth_server.url}/slack/install", params={"team": "T" * 100_000}, timeout=10)
    assert huge.status_code == 200 and len(huge.text) < 2_000  # not echoed back

    # A real team id still preselects the workspace on Slack's page.
    assert _authorize_query(requests.get(f"{oauth_server.url}/slack/install", params={"team": SECOND},
                                         timeout=10))["team"] == [SECOND]


def test_a_forged_redirect_is_logged_as_one_short_line(oauth_server, fake_slack, caplog):
    caplog.set_level(logging.INFO)
    forged = "denied\n2026-01-01 00:00:00 ERROR bot.app: forged line " + "x" * 50_000
    page = oauth_server.redirect(requests.Session(), error=forged)
    assert REFUSED_PAGE in page.text
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    page = oauth_server.redirect(browser, code="not a code\nERROR forged " + "y" * 50_000, state=state)
    assert page.status_code == 401 and REFUSED_PAGE in page.text
    assert not fake_slack.calls_to("oauth.v2.access", ok=None)  # nothing shaped like a code: Slack is not asked
    lines = [record.getMessage() for record in caplog.records]
    assert lines and all("\n" not in line and len(line) < 300 for line in lines)


def test_install_pages_opened_and_never_finished_do_not_pile_up_in_the_database(oauth_server, store):
    for _ in range(3):
        oauth_server.install_page(requests.Session())
    assert _states(store) == 3
    with store.engine.begin() as connection:  # eleven minutes later: all three links have expired
        connection.execute(text("UPDATE slack_oauth_states SET expire_at = :past"), {"past": "2000-01-01 00:00:00"})
    oauth_server.install_page(requests.Session())
    assert _states(store) == 1  # only the link just handed out


def test_a_rate_limited_code_exchange_fails_the_install_at_once_with_a_page(oauth_server, fake_slack, store):
    browser = requests.Session()
    _, state = oauth_server.install_page(browser)
    fake_slack.faults["oauth.v2.access"] = ["429:30"]  # retried after Retry-After, the browser would wait minutes
    page = oauth_server.redirect(browser, code=fake_slack.approve(SECOND), state=state)
    assert page.status_code == 401 and "Slack did not confirm this install" in page.text
    assert "Nothing was installed" in page.text and "Start the install again" in page.text
    assert len(fake_slack.calls_to("oauth.v2.access", ok=None)) == 1
    with store.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM slack_bots")).scalar_one() == 0
