"""What every listener shares: the ack, who asked (`who`), who clicked where, and the one place failures
become user text.

Domain errors (`SearchError`, `ReadingError`) carry a sentence meant for the user; anything else is
logged with its traceback and the user reads a short apology. Nothing reaches Slack as a 5xx.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from bot.reading import ReadingError
from bot.recommend import RecommendError
from bot.render_blocks.common import problem_message
from bot.search import SearchError

log = logging.getLogger(__name__)

APOLOGY = "Sorry, something went wrong on my side; please try again in a moment."
DOMAIN_ERRORS = (SearchError, ReadingError, RecommendError)


def ack_now(ack) -> None:
    """Every listener acks at once (Slack wants it within 3 s); a lazy listener does the work."""
    ack()


def failure_reply(err: Exception, *, doing: str) -> dict:
    """The reply for a failure; call it inside `except` so an unexpected error is logged with its traceback."""
    if isinstance(err, DOMAIN_ERRORS):
        return problem_message(str(err))
    log.exception("%s failed", doing)
    return problem_message(APOLOGY)


def user_text_on_failure(reply):
    """Wrap a reply function so that a failure becomes `failure_reply` instead of an exception."""

    @functools.wraps(reply)
    def wrapper(*args, **kwargs) -> dict:
        try:
            return reply(*args, **kwargs)
        except Exception as err:  # noqa: BLE001 - the user gets text either way; unexpected ones are logged
            return failure_reply(err, doing=reply.__name__)

    return wrapper


@dataclass(frozen=True)
class Click:
    """The parts of a block_actions body the listeners use (a button in a message or in the App Home)."""

    team_id: str
    user_id: str
    value: str
    block_id: str | None
    in_home: bool
    channel_id: str | None
    thread_ts: str | None
    has_response_url: bool

    @classmethod
    def from_body(cls, body: dict) -> Click:
        action = (body.get("actions") or [{}])[0]
        container = body.get("container") or {}
        user = body.get("user") or {}
        return cls(
            team_id=(body.get("team") or {}).get("id") or user.get("team_id", ""),
            user_id=user.get("id", ""),
            value=action.get("value") or "",
            block_id=action.get("block_id"),
            in_home=container.get("type") == "view" and (body.get("view") or {}).get("type", "home") == "home",
            channel_id=container.get("channel_id") or (body.get("channel") or {}).get("id"),
            thread_ts=container.get("thread_ts"),
            has_response_url=bool(body.get("response_url")),
        )


def who(sender: Mapping[str, object] | Click) -> dict[str, str]:
    """The `team_id=`, `user_id=` keywords of every per-user domain call, from a slash command's body or a
    click. A missing id is "": no read matches it, and search then shows nothing as read."""
    if isinstance(sender, Click):
        return {"team_id": sender.team_id, "user_id": sender.user_id}
    return {"team_id": str(sender.get("team_id") or ""), "user_id": str(sender.get("user_id") or "")}
