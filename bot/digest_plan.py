"""Planning a run: its papers go into the ledger (`digest_items`) once, in order, and the run is marked
planned, so a resumed run posts the same digest and a paper is never planned twice for a channel.

Papers an earlier day's run planned but never posted (that run was stopped and never resumed: the
process died, the database failed and nobody reran it) are not lost: the next run of the channel takes
that run over, records what Slack already has (bot.digest_post.reconcile), and carries the rest over to
the end of its own digest; the earlier run is then done.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from bot.digest_choose import planned_digest
from bot.digest_post import reconcile
from bot.digest_records import Digest
from bot.digest_run import RunContext
from bot.message_poster import PostFailed
from db import ledger

log = logging.getLogger(__name__)


def carry_over(ctx: RunContext) -> list[RunContext]:
    """Take over the channel's earlier runs that never finished, each brought up to date with Slack; their
    unposted papers join this run when it is planned. A run another process holds is left to it."""
    with ctx.factory.begin() as session:
        earlier = ledger.unfinished_runs(session, team_id=ctx.team_id, channel=ctx.channel, before=ctx.digest_date)
    taken = []
    for old in earlier:
        old_ctx = dataclasses.replace(ctx, digest_date=old.digest_date, run=None)
        if old_ctx.claim() is None:
            continue
        try:
            with ctx.factory.begin() as session:
                items = ledger.run_items(session, run_id=old_ctx.run_id)
            reconcile(old_ctx, items)
        except PostFailed as failed:
            log.warning("digest %s to %s: cannot check Slack for the unfinished digest of %s (%s); its papers wait "
                        "for the next run", ctx.digest_date, ctx.channel, old.digest_date, failed.code)
            with ctx.factory.begin() as session:
                ledger.release_lease(session, run_id=old_ctx.run_id, owner=ctx.owner)
            continue
        taken.append(old_ctx)
    return taken


def plan(ctx: RunContext, chosen: Digest, carried: Sequence[RunContext] = ()) -> None:
    """The run's step 2: write the chosen papers as the run's ledger rows, then the carried-over ones."""
    with ctx.factory.begin() as session:
        ledger.plan_items(session, run_id=ctx.run_id, team_id=ctx.team_id, channel=ctx.channel,
                          arxiv_ids=[p.arxiv_id for p in chosen.papers], now=ctx.clock())
        for old in carried:
            moved = ledger.carry_items_over(session, from_run_id=old.run_id, to_run_id=ctx.run_id)
            ledger.finish_run(session, run_id=old.run_id, owner=ctx.owner, status=ledger.DONE, now=ctx.clock())
            log.info("digest %s to %s: %d papers of the unfinished digest of %s go out with this one",
                     ctx.digest_date, ctx.channel, moved, old.digest_date)


def planned(ctx: RunContext) -> tuple[Digest, list[ledger.ItemRecord]]:
    """The run as the ledger has it: the planned digest and its rows (some maybe posted already)."""
    with ctx.factory.begin() as session:
        ctx.run = ledger.get_run(session, team_id=ctx.team_id, channel=ctx.channel, digest_date=ctx.digest_date)
        items = ledger.run_items(session, run_id=ctx.run_id)
        digest = planned_digest(session, ctx.settings, team_id=ctx.team_id, channel=ctx.channel,
                                digest_date=ctx.digest_date,
                                run_id=ctx.run_id)
    return digest, items
