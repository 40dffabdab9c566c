"""arXiv pacing shared by every process on one database, through the one row of `arxiv_pacing`.

arXiv asks for at most one request every ARXIV_DELAY_SECONDS from a client, and the web and clock
processes (and any CLI run) are one client to it. Before a request a process claims the turn with an
atomic conditional UPDATE (`next_request_at <= now`, then `next_request_at = now + delay`): of processes
racing for the same moment exactly one matches, on SQLite (one writer at a time) as on PostgreSQL (the
second UPDATE re-reads the row the first one committed). When a request ends, `next_request_at` moves to
at least its end plus the gap (the delay, or arXiv's Retry-After), so the next request, from any process,
also starts that long after the last answer. Times are seconds since the epoch on the database's clock,
so processes on several hosts agree without trusting their own clocks.

A claim is never held through a request: a process killed mid-request delays the others by the delay at
most. The price: a request slower than the delay can overlap the next process's request. A database
error never blocks a request; the client's own pacing still holds in its process, and a warning says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import ColumnElement, Double, case, cast, extract, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from db.dialect import insert_for
from db.models import ArxivPacing

log = logging.getLogger(__name__)

PACING_ROW_ID = 1
_UNIX_EPOCH_JULIAN_DAY = 2440587.5
_MIN_SLEEP_SECONDS = 0.001


def _now(session: Session) -> ColumnElement[float]:
    """The database's clock in seconds since the epoch (SQLite: millisecond resolution)."""
    if session.bind.dialect.name == "postgresql":
        # clock_timestamp(), not now(): now() is frozen at the start of the transaction.
        return cast(extract("epoch", func.clock_timestamp()), Double)
    return (func.julianday("now") - _UNIX_EPOCH_JULIAN_DAY) * 86400.0


def claim_turn(session: Session, *, spacing_seconds: float) -> float | None:
    """Take the turn if it is free (None), or return how many seconds until it may be."""
    now = _now(session)
    claimed = session.execute(
        update(ArxivPacing)
        .where(ArxivPacing.id == PACING_ROW_ID, ArxivPacing.next_request_at <= now)
        .values(next_request_at=now + spacing_seconds)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 1:
        return None
    wait = session.scalar(select(ArxivPacing.next_request_at - now).where(ArxivPacing.id == PACING_ROW_ID))
    if wait is None:  # the row is gone (the migration inserts it): put it back, then claim again
        session.execute(insert_for(session)(ArxivPacing).values(id=PACING_ROW_ID, next_request_at=0.0)
                        .on_conflict_do_nothing(index_elements=["id"]))
        return 0.0
    return max(float(wait), 0.0)


def push_next_turn(session: Session, *, after_seconds: float) -> None:
    """No request may start sooner than `after_seconds` from now (a later turn already set stays)."""
    target = _now(session) + after_seconds
    session.execute(
        update(ArxivPacing)
        .where(ArxivPacing.id == PACING_ROW_ID)
        .values(next_request_at=case((ArxivPacing.next_request_at < target, target),
                                     else_=ArxivPacing.next_request_at))
        .execution_options(synchronize_session=False)
    )


class SharedArxivPacing:
    """The arXiv client's `ArxivPacing` (wait_for_turn / finished), kept in the database."""

    def __init__(self, factory: sessionmaker[Session], *, delay_seconds: float,
                 sleep: Callable[[float], None] = time.sleep):
        self._factory = factory
        self._delay_seconds = delay_seconds
        self._sleep = sleep
        self._warned = False

    def wait_for_turn(self) -> None:
        while True:
            try:
                with self._factory.begin() as session:
                    wait = claim_turn(session, spacing_seconds=self._delay_seconds)
            except SQLAlchemyError:
                self._warn_once()
                return
            self._warned = False
            if wait is None:
                return
            self._sleep(max(wait, _MIN_SLEEP_SECONDS))

    def finished(self, *, next_gap_seconds: float) -> None:
        try:
            with self._factory.begin() as session:
                push_next_turn(session, after_seconds=next_gap_seconds)
        except SQLAlchemyError:
            self._warn_once()

    def _warn_once(self) -> None:
        """One warning per database outage, not one per request."""
        if not self._warned:
            self._warned = True
            log.warning("arXiv pacing is not shared just now (database error); this process paces itself",
                        exc_info=True)
