"""What the domain needs from Slack to post a digest: the `MessagePoster` protocol, `PostFailed`, and the
`MessageMark` each digest message carries so it can be found again.

The composition root hands in the real poster (handlers.digest_poster.SlackPoster); bot/ stays free of
slack_sdk. A failed post surfaces as `PostFailed` carrying Slack's error code, and bot.slack_errors says
what that code means for the run.

`chat.postMessage` has no idempotency key, and Slack can take a message and still answer 5xx, reset the
connection or time out. So every digest message is marked (Slack message metadata: run and part), and
after such an unknown outcome the run looks for the mark before it posts again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.slack_errors import SlackErrorEffect, effect_of


class PostFailed(Exception):
    """Slack refused a message; `code` is Slack's error string (e.g. `not_in_channel`).

    `transient`: Slack (or the way to it) was failing rather than refusing this message (a 5xx, a 429 or
    no answer). `maybe_posted`: Slack may have taken the message anyway (a 5xx, a reset, a timeout), so
    look for it before posting again. `retry_now`: trying again at once may help (not after a 429, whose
    Retry-After waits are already spent)."""

    def __init__(self, code: str, *, transient: bool = False, maybe_posted: bool = False, retry_now: bool = False):
        super().__init__(code)
        self.code = code
        self.effect = effect_of(code, transient=transient)
        self.transient = self.effect is SlackErrorEffect.RETRY_LATER
        self.maybe_posted = maybe_posted
        self.retry_now = retry_now


@dataclass(frozen=True)
class MessageMark:
    """Which digest message this is: its run (the ledger's id and date) and its part (0 the parent or the
    empty-day note, n the n-th reply of papers)."""

    run_id: int
    digest_date: date
    part: int


class MessagePoster(Protocol):
    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None,
             mark: MessageMark | None = None, fence: Callable[[], None] | None = None) -> str:
        """Post one message (carrying `mark`) and return its ts, or raise PostFailed.

        `fence` is called before every re-send the poster makes by itself (after a 429's Retry-After):
        it raises when this process may no longer post, and the message is not sent again."""

    def find_marked(self, *, channel: str, run_id: int, digest_date: date, thread_ts: str | None = None,
                    oldest: datetime | None = None) -> dict[int, str]:
        """{part: ts} of the run's marked messages Slack holds: top-level ones since `oldest`, or the
        replies in the thread `thread_ts`. Raises PostFailed when Slack cannot be asked."""
