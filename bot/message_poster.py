"""What the domain needs from Slack to post a digest: the `MessagePoster` protocol and `PostFailed`.

The composition root hands in the real poster (handlers.digest_poster.SlackPoster); bot/ stays free of
slack_sdk. A failed post surfaces as `PostFailed` carrying Slack's error code, and bot.slack_errors says
what that code means for the run.
"""

from __future__ import annotations

from typing import Protocol

from bot.slack_errors import SlackErrorEffect, effect_of


class PostFailed(Exception):
    """Slack refused a message; `code` is Slack's error string (e.g. `not_in_channel`). `transient` says
    Slack (or the way to it) was failing rather than refusing this message: a 5xx, a 429 or no answer."""

    def __init__(self, code: str, *, transient: bool = False):
        super().__init__(code)
        self.code = code
        self.effect = effect_of(code, transient=transient)
        self.transient = self.effect is SlackErrorEffect.RETRY_LATER


class MessagePoster(Protocol):
    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None) -> str:
        """Post one message and return its ts, or raise PostFailed."""
