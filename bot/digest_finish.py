"""Finishing a run: close it in the ledger, release the lease, and say what happened in one log line,
with what an admin must do when Slack stopped the run (bot.slack_errors says which codes do)."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from bot.digest_records import PostReport
from bot.digest_run import LEASE, LeaseLost, RunContext
from bot.message_poster import PostFailed
from db import ledger
from db.session import describe_db_error

log = logging.getLogger(__name__)

SLACK_RETRY_DELAY = timedelta(minutes=10)  # when a run Slack's outage stopped is worth trying again
# When a run the database stopped is tried again: a lock held too long or a full disk is often over by then.
DATABASE_RETRY_DELAY = timedelta(minutes=2)

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
        existing = ledger.get_run(session, team_id=ctx.team_id, channel=ctx.channel, digest_date=ctx.digest_date)
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


def database_failed(ctx: RunContext, err: SQLAlchemyError) -> PostReport:
    """The run's step 4 when the database failed mid-run (a lock held past the busy timeout, a full disk).

    What Slack accepted is in the channel with its mark, so the retry finds it instead of posting it again.
    The lease is given back if the database lets us; if not, the retry waits for it to run out."""
    report = ctx.report
    report.status, report.database_error = "failed", describe_db_error(err)
    report.errors.append(f"database: {report.database_error}")
    report.retry_at = ctx.clock() + DATABASE_RETRY_DELAY
    try:
        with ctx.factory.begin() as session:
            ledger.finish_run(session, run_id=ctx.run_id, owner=ctx.owner, status=ledger.FAILED, now=ctx.clock())
    except SQLAlchemyError:
        report.retry_at = max(report.retry_at, ctx.clock() + LEASE)  # our lease has to run out first
    log.error("digest %s to %s: the database failed mid-run (%s) after Slack accepted %d messages; those carry "
              "their marks, so the retry at %s posts only what is missing (or rerun %s)", ctx.digest_date,
              ctx.channel, report.database_error, report.messages, report.retry_at.isoformat(timespec="minutes"),
              ctx.rerun_command())
    return report


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
