"""Planning a run: its papers go into the ledger (`digest_items`) once, in order, and the run is marked
planned, so a resumed run posts the same digest and a paper is never planned twice for a channel."""

from __future__ import annotations

from bot.digest_choose import planned_digest
from bot.digest_records import Digest
from bot.digest_run import RunContext
from db import ledger


def plan(ctx: RunContext, chosen: Digest) -> None:
    """The run's step 2: write the chosen papers as the run's ledger rows."""
    with ctx.factory.begin() as session:
        ledger.plan_items(session, run_id=ctx.run_id, channel=ctx.channel,
                          arxiv_ids=[p.arxiv_id for p in chosen.papers], now=ctx.clock())


def planned(ctx: RunContext) -> tuple[Digest, list[ledger.ItemRecord]]:
    """The run as the ledger has it: the planned digest and its rows (some maybe posted already)."""
    with ctx.factory.begin() as session:
        ctx.run = ledger.get_run(session, channel=ctx.channel, digest_date=ctx.digest_date)
        items = ledger.run_items(session, run_id=ctx.run_id)
        digest = planned_digest(session, ctx.settings, channel=ctx.channel, digest_date=ctx.digest_date,
                                run_id=ctx.run_id)
    return digest, items
