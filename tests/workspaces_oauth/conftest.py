"""An OAuth-mode server: the real HTTP server and Bolt (signature verification on) with SLACK_CLIENT_ID and
SLACK_CLIENT_SECRET instead of SLACK_BOT_TOKEN, on the test's database, against the fake Slack; and the steps
of an install as a browser takes them (the "Add to Slack" page, Slack's authorize page, the redirect back)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from bot.app import Services
from bot.config import Settings
from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED, serve_bolt
from tests.fakes.slack_api import CLIENT_ID, CLIENT_SECRET
from tests.slack_requests import SIGNING_SECRET

SECOND = "T0SECOND"  # installs through /slack/install in most tests
SECOND_CHANNEL, SECOND_USER = "C0SECOND", "U0BEA"
THIRD = "T0THIRD"  # never installs
THIRD_CHANNEL, THIRD_USER = "C0THIRD", "U0CAL"


@pytest.fixture
def oauth_env(env, fake_slack, monkeypatch) -> dict[str, str]:
    extra = {"SLACK_CLIENT_ID": CLIENT_ID, "SLACK_CLIENT_SECRET": CLIENT_SECRET,
             "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": fake_slack.base_url}
    for name, value in extra.items():
        monkeypatch.setenv(name, value)
    return {**env, **extra}


@pytest.fixture
def oauth_settings(oauth_env) -> Settings:
    return Settings.from_env(oauth_env)


@dataclass
class OAuthServer:
    url: str
    services: Services
    bolt: object

    def install_page(self, browser: requests.Session, team: str | None = None) -> tuple[requests.Response, str]:
        """GET /slack/install: the page, and the state in its "Add to Slack" link."""
        page = browser.get(f"{self.url}/slack/install", params={"team": team} if team else None, timeout=10)
        # The cookie is Secure (production is https, as Slack requires): over the tests' plain http a browser
        # would not send it back, so it is kept here as one on https would keep it.
        for cookie in list(browser.cookies):
            if cookie.secure:
                browser.cookies.set(cookie.name, cookie.value, domain=cookie.domain, path=cookie.path, secure=False)
        link = unescape(re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)[1])
        return page, parse_qs(urlparse(link).query)["state"][0]

    def redirect(self, browser: requests.Session, **query) -> requests.Response:
        """Slack sends the installer's browser back to GET /slack/oauth_redirect with these parameters."""
        return browser.get(f"{self.url}/slack/oauth_redirect", params=query, timeout=10)

    def install(self, fake_slack, team: str) -> requests.Response:
        """The whole install of `team`, as an admin's browser goes through it."""
        browser = requests.Session()
        _, state = self.install_page(browser)
        return self.redirect(browser, code=fake_slack.approve(team), state=state)


@pytest.fixture
def oauth_server(oauth_settings, store, listener_work, fake_slack):
    """The server, with the seed papers stored; SECOND and THIRD exist in Slack, neither has installed."""
    ingest_feed_file(store.session_factory, SEED_FEED)
    fake_slack.add_workspace(SECOND, name="Second Lab", channels=(SECOND_CHANNEL,), users=(SECOND_USER, "U0ADMIN"))
    fake_slack.add_workspace(THIRD, name="Third Lab", channels=(THIRD_CHANNEL,), users=(THIRD_USER,))
    services = Services(settings=oauth_settings, store=store)
    with serve_bolt(services, listener_work) as (url, bolt):
        yield OAuthServer(url, services, bolt)
