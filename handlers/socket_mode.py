"""Socket Mode: Slack's requests arrive over a WebSocket the app opens (SLACK_APP_TOKEN), no public URL."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """The connection to Slack (`connect()` returns, `start()` blocks), opened with the app's Web client."""
    return SocketModeHandler(app, app_token)


def socket_connected(handler: SocketModeHandler) -> bool:
    """Whether the WebSocket to Slack is open now (what /readyz reports in Socket Mode)."""
    return bool(handler.client.is_connected())
