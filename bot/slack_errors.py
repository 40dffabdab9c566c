"""Slack's error codes, and what each means for a run that posts messages: one table for the whole app.

- STOP: no retry fixes it until an admin acts (invite the bot, fix the channel id, the token or a scope).
- RETRY_LATER: Slack, or the way to it, is failing; the same message can go through later. Marking the
  papers failed instead would drop them from the channel for good.
- REFUSE_MESSAGE: Slack refused this one message (its blocks, its length); the next ones can still go.

A code not in the table refuses only its message, unless it came with a 5xx, a 429 or no answer at all
(`transient=True`): then it is RETRY_LATER, as is any non-STOP code that came that way.
"""

from __future__ import annotations

from enum import Enum


class SlackErrorEffect(Enum):
    STOP = "stop-until-an-admin-acts"
    RETRY_LATER = "transient-retry-later"
    REFUSE_MESSAGE = "refuse-this-message"


# The bot cannot post in this channel at all (a user-facing "invite me" case, e.g. Share).
CHANNEL_ACCESS_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})

SLACK_ERRORS: dict[str, SlackErrorEffect] = {
    **dict.fromkeys(CHANNEL_ACCESS_ERRORS, SlackErrorEffect.STOP),
    **dict.fromkeys(("invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired",
                     "missing_scope", "no_permission", "ekm_access_denied", "team_access_not_granted"),
                    SlackErrorEffect.STOP),
    **dict.fromkeys(("ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"),
                    SlackErrorEffect.RETRY_LATER),
    **dict.fromkeys(("invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "too_many_attachments",
                     "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"),
                    SlackErrorEffect.REFUSE_MESSAGE),
}


def effect_of(code: str, *, transient: bool = False) -> SlackErrorEffect:
    """What `code` means for the run; `transient` says Slack answered 5xx or 429, or not at all."""
    effect = SLACK_ERRORS.get(code, SlackErrorEffect.REFUSE_MESSAGE)
    if transient and effect is SlackErrorEffect.REFUSE_MESSAGE:
        return SlackErrorEffect.RETRY_LATER  # a 5xx or no answer is never this message's fault
    return effect
