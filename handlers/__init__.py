"""Slack listeners, registered per kind. Each acks first, makes one domain call, renders, responds."""

from __future__ import annotations


def register(app, services) -> None:
    from handlers import actions, commands, events

    app.middleware(skip_slack_retries)
    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)


def skip_slack_retries(req, resp, next):  # noqa: A002 - Bolt passes `next` by name
    """Slack re-sends an event it thinks timed out (X-Slack-Retry-Num); the first delivery already ran.

    Bolt's signature check runs before this middleware, so a forged retry is still refused.
    """
    from slack_bolt import BoltResponse

    if req.headers.get("x-slack-retry-num"):
        return BoltResponse(status=200, body="")
    return next()
