"""Slack events: `app_home_opened` publishes the user's App Home (counts, recent reads, unread digest papers)."""

from __future__ import annotations

import logging
from functools import partial

from bot import reading
from bot.render_blocks import reading as views
from handlers.common import ack_now

log = logging.getLogger(__name__)


def publish_home(services, client, *, team_id: str, user_id: str) -> None:
    """Build the user's home summary and publish it; views.publish replaces the whole tab."""
    summary = reading.home_summary(
        services.store.session_factory, team_id=team_id, user_id=user_id,
        timezone=services.settings.digest_timezone,
    )
    client.views_publish(user_id=user_id, view=views.home_view(summary))


def app_home_opened(services, body: dict, event: dict, client) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab needs nothing from us
    team_id = body.get("team_id") or (event.get("view") or {}).get("team_id", "")
    try:
        publish_home(services, client, team_id=team_id, user_id=event["user"])
    except reading.ReadingError as err:
        # Nowhere to show a message in the Home tab; the previous view stays. Log why.
        log.warning("App Home not refreshed for %s: %s", event.get("user"), err)


def register(app, services) -> None:
    app.event("app_home_opened")(ack=ack_now, lazy=[partial(app_home_opened, services)])
