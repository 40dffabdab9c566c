"""Signed, real-shaped Slack requests for end-to-end tests against the HTTP server.

Signatures come from slack_sdk's own SignatureVerifier, the same code Bolt checks them with.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import requests
from slack_sdk.signature import SignatureVerifier

from tests.fakes.slack_api import TEAM_ID

SIGNING_SECRET = "test-signing-secret-not-real"


def signed_headers(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None,
                   content_type: str = "application/x-www-form-urlencoded") -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature, "Content-Type": content_type}


def slash_command_body(text: str, *, user_id: str = "U0ALICE", channel_id: str = "C0DIGEST",
                       response_url: str, team_id: str = TEAM_ID) -> str:
    return urlencode({
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": "papers",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/papers",
        "text": text,
        "api_app_id": "A0PAPERS",
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    })


def block_actions_body(action: dict, *, user_id: str = "U0ALICE", channel_id: str = "C0DIGEST",
                       response_url: str | None = None, team_id: str = TEAM_ID, container: dict | None = None,
                       message: dict | None = None, view: dict | None = None) -> str:
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0PAPERS",
        "token": "deprecated-verification-token",
        "container": container or {"type": "message", "message_ts": "1700000000.000200",
                                   "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "team": {"id": team_id, "domain": "test"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "papers"},
        "actions": [{"block_id": "b1", "action_ts": f"{time.time():.6f}", **action}],
    }
    if response_url:
        payload["response_url"] = response_url
    if message is not None:
        payload["message"] = message
    if view is not None:
        payload["view"] = view
    return urlencode({"payload": json.dumps(payload)})


def event_body(event: dict, *, team_id: str = TEAM_ID, event_id: str = "Ev0000001") -> str:
    return json.dumps({
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "api_app_id": "A0PAPERS",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team_id, "user_id": "U0BOT", "is_bot": True}],
    })


def post(url: str, body: str, *, content_type: str = "application/x-www-form-urlencoded",
         extra_headers: dict | None = None, **sign) -> requests.Response:
    headers = {**signed_headers(body, content_type=content_type, **sign), **(extra_headers or {})}
    return requests.post(url, data=body.encode(), headers=headers, timeout=10)
