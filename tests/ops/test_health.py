"""/healthz and /readyz where there is no Slack HTTP server: Socket Mode's health port reports the WebSocket, the
clock process's reports the database; `papers-bot health` (the Docker HEALTHCHECK) asks the running process."""

from __future__ import annotations

import dataclasses
import socket
import time

import pytest
import requests

from bot import app, cli
from bot.config import ConfigError
from bot.metrics import Metrics
from handlers.socket_mode import socket_connected, socket_mode_handler
from tests.fakes.slack_api import BOT_TOKEN
from tests.fakes.socket_mode import APP_TOKEN, FakeSlackWithSocketMode, close_handler
from tests.ops.conftest import METRICS_TOKEN


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def socket_slack():
    fake = FakeSlackWithSocketMode().start()
    yield fake
    fake.stop()


def test_socket_mode_serves_health_on_its_port_and_readyz_follows_the_connection(settings, store, socket_slack):
    socket_settings = dataclasses.replace(settings, slack_bot_token=BOT_TOKEN, slack_api_url=socket_slack.base_url,
                                          slack_app_token=APP_TOKEN, slack_signing_secret=None,
                                          health_port=_free_port())
    services = app.Services(settings=socket_settings, store=store)
    handler = socket_mode_handler(app.build_bolt_app(services), APP_TOKEN)
    server = app.serve_health(socket_settings, store, services.metrics,
                              socket_connected=lambda: socket_connected(handler))
    base = f"http://127.0.0.1:{socket_settings.health_port}"
    try:
        assert _wait_for(lambda: _answers(f"{base}/healthz"))
        assert requests.get(f"{base}/healthz", timeout=5).json() == {"ok": True}
        before = requests.get(f"{base}/readyz", timeout=5)
        assert before.status_code == 503
        assert before.json()["reason"] == "socket: not connected to Slack"

        handler.connect()
        assert socket_slack.socket_mode.wait_connected()
        assert _wait_for(lambda: requests.get(f"{base}/readyz", timeout=5).status_code == 200)
        assert requests.get(f"{base}/readyz", timeout=5).json() == {"ok": True, "database": "ok", "slack": "ok",
                                                                    "socket": "ok"}
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 404  # METRICS_ENABLED is off
        assert requests.get(f"{base}/slack/events", timeout=5).status_code == 404  # only the operator's paths here
    finally:
        close_handler(handler)
        server.close()
    assert not socket_connected(handler)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.ConnectionError:
        return False


def test_the_clock_process_health_port_checks_the_database_and_serves_metrics(settings, store):
    clock_settings = dataclasses.replace(settings, health_port=_free_port(), metrics_enabled=True,
                                         metrics_token=METRICS_TOKEN)
    metrics = Metrics()
    server = app.serve_health(clock_settings, store, metrics, slack=None)
    base = f"http://127.0.0.1:{clock_settings.health_port}"
    try:
        assert _wait_for(lambda: _answers(f"{base}/healthz"))
        assert requests.get(f"{base}/readyz", timeout=5).json() == {"ok": True, "database": "ok"}
        metrics.arxiv_request("ok")
        scraped = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5)
        assert 'papers_bot_arxiv_requests_total{outcome="ok"} 1.0' in scraped.text
    finally:
        server.close()


def test_no_health_port_is_opened_without_the_setting(settings, store):
    assert settings.health_port is None
    assert app.serve_health(settings, store, Metrics()) is None


def test_papers_bot_health_asks_the_running_server(slack_server, monkeypatch, capsys):
    monkeypatch.setenv("PORT", slack_server.rsplit(":", 1)[1])
    assert cli.main(["health"]) == 0
    assert cli.main(["health", "--ready"]) == 0
    assert '"database": "ok"' in capsys.readouterr().out


def test_papers_bot_health_fails_in_one_line_when_nothing_answers(env, monkeypatch, capsys):
    monkeypatch.setenv("PORT", str(_free_port()))
    assert cli.main(["health"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("papers-bot health: nothing answers on port") and err.count("\n") == 1


def test_papers_bot_health_prefers_the_health_port(env, settings, store, monkeypatch, capsys):
    port = _free_port()
    server = app.serve_health(dataclasses.replace(settings, health_port=port), store, Metrics(), slack=None)
    try:
        monkeypatch.setenv("HEALTH_PORT", str(port))
        monkeypatch.setenv("PORT", str(_free_port()))  # nothing there
        assert _wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"))
        assert cli.main(["health", "--ready"]) == 0
    finally:
        server.close()


def test_a_health_port_already_taken_is_one_line_naming_the_setting(settings, store):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"HEALTH_PORT {port}: cannot listen there"):
            app.serve_health(dataclasses.replace(settings, health_port=port), store, Metrics())
