"""Finishing a run: close it in the ledger, release the lease, and say what happened in one log line,
with what an admin must do when Slack stopped the run (bot.slack_errors says which codes do)."""

from __future__ import annotations

import logging
from datetime import timedelta

from bot.digest_records import PostReport
from bot.digest_run import LeaseLost, RunContext
from bot.message_poster import PostFailed
from db import ledger

log = logging.getLogger(__name__)

SLACK_RETRY_DELAY = timedelta(minutes=10)  # when a run Slack's outage stopped is worth trying again

# What the admin reads when Slack stops the run with one of these codes; {rerun} is the command to run after.
ADMIN_ADVICE = {
    "not_in_channel": "the bot is not in channel {channel} (not_in_channel). Invite it there with "
                      "`/invite @papers-bot`, then rerun {rerun}.",
    "channel_not_found": "channel {channel} was not found (channel_not_found): check the channel id "
                         "(DIGEST_CHANNEL or --channel), invite the bot with `/invite @papers-bot` if the channel "
                         "is private, then rerun {rerun}.",
}


def not_claimed(ctx: RunContext) -> PostReport:
    """The run is done already, or another process holds its lease (retry when that expires)."""
    report = ctx.report
    with ctx.factory.begin() as session:
        existing = ledger.get_run(session, channel=ctx.channel, digest_date=ctx.digest_date)
    if existing and existing.status == ledger.DONE:
        report.status = "already-done"
    else:
        report.status = "busy"
        report.retry_at = existing.lease_expires_at if existing else None
    log.info("%s", report.summary())
    return report


def done(ctx: RunContext) -> PostReport:
    """The run's step 4: every planned paper is posted (or refused by Slack for good)."""
    return close(ctx, ledger.DONE)


def stopped(ctx: RunContext, reason: PostFailed | LeaseLost) -> PostReport:
    """The run's step 4 when it could not go on: another process took over, or Slack stopped it."""
    if isinstance(reason, LeaseLost):
        log.warning("%s; stopping here, the other process posts the rest", reason)
        ctx.report.status = "busy"
        return ctx.report
    explain_slack_failure(ctx, reason)
    ctx.report.errors.append(reason.code)
    if not ctx.report.messages and ctx.run.parent_ts is None and not ctx.unconfirmed_post:
        # Nothing reached the channel: give the papers back, so the next digest (any date) can post
        # them instead of their staying planned for a run that never showed up.
        with ctx.factory.begin() as session:
            ledger.unplan_run(session, run_id=ctx.run_id, owner=ctx.owner)
    return close(ctx, ledger.FAILED)


def explain_slack_failure(ctx: RunContext, failed: PostFailed) -> None:
    advice = ADMIN_ADVICE.get(failed.code)
    if advice:
        log.error("digest %s: %s", ctx.digest_date, advice.format(channel=ctx.channel, rerun=ctx.rerun_command()))
    elif failed.transient:
        with ctx.factory.begin() as session:
            still = sum(1 for i in ledger.run_items(session, run_id=ctx.run_id)
                        if i.message_ts is None and i.error is None)
        log.error("digest %s to %s: Slack is failing (%s) after its retries; stopped with %d papers still to "
                  "post. Nothing was lost: rerun %s to post the rest.", ctx.digest_date, ctx.channel, failed.code,
                  still, ctx.rerun_command())
        ctx.report.retry_at = ctx.clock() + SLACK_RETRY_DELAY
    else:
        log.error("digest %s to %s: Slack refused the message: %s", ctx.digest_date, ctx.channel, failed.code)


def close(ctx: RunContext, status: str) -> PostReport:
    with ctx.factory.begin() as session:
        ledger.finish_run(session, run_id=ctx.run_id, owner=ctx.owner, status=status, now=ctx.clock())
    if status == ledger.FAILED:
        ctx.report.status = "failed"
    log.info("%s", ctx.report.summary())
    return ctx.report
