"""The "arXiv is unavailable" notice: said once per (channel, date), and only before the digest itself
has started (its papers planned) -- the digest follows when arXiv is back (bot.scheduler retries)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.digest_run import LEASE, process_owner, utc_now
from bot.message_poster import MessagePoster, PostFailed
from bot.render_blocks import digest as blocks
from db import ledger

log = logging.getLogger(__name__)


def post_arxiv_unavailable_notice(
    factory: sessionmaker[Session],
    poster: MessagePoster,
    *,
    team_id: str,
    channel: str,
    digest_date: date,
    owner: str | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> bool:
    """Say once per (team, channel, date) that arXiv is down and the digest will follow; True if posted now.

    Nothing is posted once the digest itself has started (its papers planned) or is done.
    """
    owner = owner or process_owner()
    with factory.begin() as session:
        run = ledger.claim_run(session, team_id=team_id, channel=channel, digest_date=digest_date, owner=owner,
                               now=clock(), lease=LEASE)
    if run is None:
        return False
    try:
        if run.planned or run.notice_posted_at is not None:
            return False
        try:
            poster.post(channel=channel, **blocks.arxiv_unavailable_message(digest_date))
        except PostFailed as failed:
            log.error("digest %s: could not tell %s that arXiv is unavailable: %s", digest_date, channel,
                      failed.code)
            return False
        with factory.begin() as session:
            ledger.mark_notice_posted(session, run_id=run.id, now=clock())
        log.info("digest %s: told %s that arXiv is unavailable and the digest will follow", digest_date, channel)
        return True
    finally:
        with factory.begin() as session:
            ledger.release_lease(session, run_id=run.id, owner=owner)
