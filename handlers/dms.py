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


def send_follow_alerts(client, factory, *, until=None) -> AlertReport:
    """Gather the new papers every follow matched (first stored before `until`, default now), then DM each
    user theirs (most relevant first)."""
    follows.gather_alerts(factory, until=until)
    sent = skipped = 0
    for dm in follows.pending_dms(factory):
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


def send_foryou_dms(client, factory, *, window_days: int) -> AlertReport:
    """The opt-in morning For you DMs: each subscriber's top new papers, recorded once Slack took the DM."""
    sent = skipped = 0
    for dm in foryou_dm.morning_dms(factory, window_days=window_days):
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


def send_daily_dms(client, factory, *, window_days: int) -> list[AlertReport]:
    """What the scheduled job sends after the channel digests: follow alerts, then the morning For you DMs."""
    return [send_follow_alerts(client, factory), send_foryou_dms(client, factory, window_days=window_days)]
