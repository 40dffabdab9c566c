"""The HTTP server: health check, Bolt's signature verification, body limits."""

import json
import time

import requests

from tests.slack_requests import event_body, post


def test_healthz_checks_the_database(slack_server):
    response = requests.get(f"{slack_server}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "database": "ok"}


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
