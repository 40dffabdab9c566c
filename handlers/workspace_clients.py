"""The Web clients the daily jobs act through, one per workspace: what feeds bot.workspaces' `Installations` seam.

Single-token mode (SLACK_BOT_TOKEN): one workspace, the token's. Its team_id is SLACK_TEAM_ID when set (no call
to Slack, so it works offline), else `auth.test`'s answer, asked once per process and cached. With OAuth, the
installation store feeds the same seam: a callable yielding (team_id, a client built with
`build_web_client(settings, token=<the installation's bot token>)`) for every installation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from handlers.bolt_app import SlackUnavailable
from handlers.web_client import build_web_client


class SingleTokenWorkspace:
    """SLACK_BOT_TOKEN's workspace: its team_id (SLACK_TEAM_ID, else auth.test, once) and its client."""

    def __init__(self, settings: Settings, *, on_resolved: Callable[[str], object] | None = None,
                 on_token_accepted: Callable[[str], object] | None = None):
        settings.require("SLACK_BOT_TOKEN")
        self.client: WebClient = build_web_client(settings)
        self._team_id = settings.slack_team_id
        self._on_resolved = on_resolved
        self._on_token_accepted = on_token_accepted  # auth.test took the token: the app is installed there
        self._resolved = False
        self._lock = threading.Lock()

    def team_id(self) -> str:
        """The token's workspace; raises SlackUnavailable when Slack refuses the token or cannot be reached."""
        with self._lock:
            if self._team_id is None:
                self._team_id = self._ask_slack()
                if self._on_token_accepted is not None:
                    self._on_token_accepted(self._team_id)
            if not self._resolved and self._on_resolved is not None:
                self._on_resolved(self._team_id)  # e.g. hand it the rows from before workspaces
            self._resolved = True
            return self._team_id

    def _ask_slack(self) -> str:
        try:
            answer = self.client.auth_test()
        except SlackApiError as err:
            code = (err.response.data or {}).get("error", "auth.test failed") if err.response is not None else "?"
            raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN ({code})") from None
        except OSError as err:
            raise SlackUnavailable(f"cannot reach Slack's Web API at SLACK_API_URL ({type(err).__name__})") from None
        return str(answer["team_id"])

    def __call__(self) -> list[tuple[str, WebClient]]:
        """The `Installations` seam: this one workspace and its client."""
        return [(self.team_id(), self.client)]
