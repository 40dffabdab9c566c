"""Follow alerts by DM: one message per user a day, opened through `conversations.open`.

A user who blocked the app's DMs, left the workspace or was deactivated is skipped with a log line; their
papers stay unsent (a later run tries again). A DM Slack accepted is recorded at once, so the next run never
sends the same papers again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from bot import follows, foryou_dm
from bot.render_blocks.follows import alert_dm
from bot.render_blocks.recommend import foryou_dm_message

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertReport:
    sent: int
    skipped: int
    kind: str = "follow alerts"

    def summary(self) -> str:
        return f"{self.kind}: {self.sent} DMs sent, {self.skipped} users skipped"


def send_follow_alerts(client, factory, *, team_id: str, until=None) -> AlertReport:
    """Gather the new papers every follow of the workspace matched (first stored before `until`, default now), then
    DM each user theirs (most relevant first) through `client`, the workspace's own."""
    follows.gather_alerts(factory, team_id=team_id, until=until)
    sent = skipped = 0
    for dm in follows.pending_dms(factory, team_id=team_id):
        try:
            channel = client.conversations_open(users=dm.user_id)["channel"]["id"]
            client.chat_postMessage(channel=channel, **alert_dm(dm))
        except SlackApiError as err:
            error = err.response.get("error") if err.response is not None else "no answer"
            log.warning("follow alert DM to %s skipped: %s", dm.user_id, error)
            skipped += 1
            continue
        follows.mark_sent(factory, dm)
        sent += 1
    return AlertReport(sent=sent, skipped=skipped)


def send_foryou_dms(client, factory, *, team_id: str, window_days: int) -> AlertReport:
    """The opt-in morning For you DMs of the workspace: each subscriber's top new papers, recorded once Slack took
    the DM."""
    sent = skipped = 0
    for dm in foryou_dm.morning_dms(factory, team_id=team_id, window_days=window_days):
        try:
            channel = client.conversations_open(users=dm.user_id)["channel"]["id"]
            client.chat_postMessage(channel=channel, **foryou_dm_message(dm.page))
        except SlackApiError as err:
            error = err.response.get("error") if err.response is not None else "no answer"
            log.warning("For you DM to %s skipped: %s", dm.user_id, error)
            skipped += 1
            continue
        foryou_dm.mark_sent(factory, dm)
        sent += 1
    return AlertReport(sent=sent, skipped=skipped, kind="For you DMs")


def send_daily_dms(client, factory, *, team_id: str, window_days: int) -> list[AlertReport]:
    """What the scheduled job sends a workspace after its channel digests: follow alerts, then the morning For you
    DMs, through the workspace's own client."""
    return [send_follow_alerts(client, factory, team_id=team_id),
            send_foryou_dms(client, factory, team_id=team_id, window_days=window_days)]
