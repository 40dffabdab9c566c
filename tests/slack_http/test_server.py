"""The HTTP server: health check, Bolt's signature verification, body limits."""

import json
import socket
import time
from urllib.parse import urlparse

import requests

from tests.slack_requests import event_body, post, signed_headers, slash_command_body


def test_healthz_says_the_process_is_up_and_readyz_checks_the_database_and_the_token(slack_server):
    response = requests.get(f"{slack_server}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    ready = requests.get(f"{slack_server}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"ok": True, "database": "ok", "slack": "ok"}


def test_forged_signature_is_refused(slack_server):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    response = post(f"{slack_server}/slack/events", body, content_type="application/json", secret="wrong-secret")
    assert response.status_code == 401


def test_request_older_than_five_minutes_is_refused(slack_server):
    body = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"})
    response = post(f"{slack_server}/slack/events", body, content_type="application/json",
                    timestamp=int(time.time()) - 301)
    assert response.status_code == 401


def test_missing_signature_headers_are_refused(slack_server):
    response = requests.post(f"{slack_server}/slack/events", data=b"{}", timeout=5,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 401


def test_url_verification_challenge_is_answered(slack_server):
    body = json.dumps({"token": "x", "challenge": "c-123", "type": "url_verification"})
    response = post(f"{slack_server}/slack/events", body, content_type="application/json")
    assert response.status_code == 200 and "c-123" in response.text


def test_body_over_one_megabyte_is_refused(slack_server):
    body = "x" * (1_048_576 + 10)
    response = post(f"{slack_server}/slack/events", body)
    assert response.status_code == 413


def test_unknown_path_is_404(slack_server):
    assert requests.get(f"{slack_server}/nope", timeout=5).status_code == 404


def test_a_request_acks_fast_while_110_idle_connections_are_held_open(slack_server, fake_slack):
    address = (urlparse(slack_server).hostname, urlparse(slack_server).port)
    idle = []
    try:
        for n in range(110):
            sock = socket.create_connection(address, timeout=5)
            if n % 2:  # half of them half-way through a request line, the rest silent
                sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        time.sleep(0.2)  # let the server accept what it will
        body = slash_command_body("help", response_url=fake_slack.response_url("idle"))
        started = time.monotonic()
        try:
            response = requests.post(f"{slack_server}/slack/events", data=body.encode(), headers=signed_headers(body),
                                     timeout=5)
        except requests.RequestException as err:
            raise AssertionError(f"no ack within 5 s while 110 connections were idle ({type(err).__name__})") from None
        took = time.monotonic() - started
        assert response.status_code == 200
        assert took < 1.5, f"ack took {took:.2f} s"
        assert fake_slack.wait_for("response_url", 1, timeout=10)
    finally:
        for sock in idle:
            sock.close()
