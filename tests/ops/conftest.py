"""The real HTTP server (waitress + Bolt) with metrics on behind a token, against the loopback fakes."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import pytest
import requests

from bot.app import Services, build_bolt_app, build_wsgi_app, make_http_server
from tests.conftest import run_server_in_thread

METRICS_TOKEN = "metrics-token-for-tests-only"


@pytest.fixture(autouse=True)
def _root_logger_restored():
    """`papers-bot …` (cli.main) configures the root logger with a handler on this test's captured stderr; put the
    handlers back, so no thread logs to that closed stream after the test."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in saved[0]:
        root.addHandler(handler)
    root.setLevel(saved[1])


@dataclass
class ObservedServer:
    base: str
    services: Services

    def scrape(self) -> str:
        response = requests.get(f"{self.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                                timeout=5)
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def observed_server(slack_settings, store, listener_work, fake_arxiv):
    settings = dataclasses.replace(slack_settings, metrics_enabled=True, metrics_token=METRICS_TOKEN,
                                   arxiv_api_url=fake_arxiv.url)
    services = Services(settings=settings, store=store)
    bolt = build_bolt_app(services)
    bolt.listener_runner.listener_executor = listener_work
    bolt.listener_runner.lazy_listener_runner.executor = listener_work
    server = make_http_server(build_wsgi_app(bolt, store, services=services), host="127.0.0.1", port=0)
    stop = run_server_in_thread(server)
    yield ObservedServer(f"http://127.0.0.1:{server.effective_port}", services)
    stop()


def sample(exposition: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text (0 when absent, as a counter not yet touched)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    head = f"{name}{{{wanted}}}" if labels else name
    for line in exposition.splitlines():
        if line.startswith(head + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
