"""`papers-bot serve` itself, with SLACK_CLIENT_ID and SLACK_CLIENT_SECRET and no bot token: a second workspace
installs through the served pages, and its command is answered."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from bot.ingest import ingest_feed_file
from tests.conftest import SEED_FEED
from tests.slack_requests import post, slash_command_body
from tests.workspaces_oauth.conftest import SECOND, SECOND_CHANNEL, SECOND_USER, OAuthServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(oauth_env, store, fake_slack, tmp_path):
    ingest_feed_file(store.session_factory, SEED_FEED)
    fake_slack.add_workspace(SECOND, channels=(SECOND_CHANNEL,), users=(SECOND_USER,))
    port = _free_port()
    log = tmp_path / "serve.log"  # a file, not a pipe nobody reads while the server runs
    child = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--no-scheduler", "--port", str(port)],
                             env={**os.environ, **oauth_env}, stdout=subprocess.DEVNULL, stderr=log.open("w"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            child.kill()
            pytest.fail(f"serve did not start: {log.read_text()[-2000:]}")
        yield url
    finally:
        child.terminate()
        child.wait(timeout=10)


def test_serve_offers_the_install_and_answers_the_new_workspace(served, fake_slack):
    page = OAuthServer(served, services=None, bolt=None).install(fake_slack, SECOND)
    assert page.status_code == 200 and "Thank you" in page.text
    body = slash_command_body("sparse", team_id=SECOND, channel_id=SECOND_CHANNEL, user_id=SECOND_USER,
                              response_url=fake_slack.response_url("served"))
    assert post(f"{served}/slack/events", body).status_code == 200
    answer, = fake_slack.wait_for("response_url", timeout=15)
    assert "sparse" in str(answer.args).lower() and "not installed" not in str(answer.args)
    assert {c.team for c in fake_slack.calls_to("auth.test")} == {SECOND}
