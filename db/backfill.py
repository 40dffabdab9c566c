"""SQL for `backfill_windows`: which OAI-PMH windows `papers-bot backfill` harvested, and where one resumes.

A window is (set, from, until) in OAI datestamps. While it runs, each stored page moves its resumption token and
its newest datestamp forward in the page's own transaction (`record_page`), so the row never claims a page that
was not stored. When it ends, `covered_through` says which of its days need no request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import BackfillWindow

RUNNING = "running"
DONE = "done"


@dataclass(frozen=True)
class WindowState:
    id: int
    set_spec: str
    from_date: date
    until_date: date
    resumption_token: str | None
    resume_from: date | None
    pages: int
    papers: int


def _state(row: BackfillWindow) -> WindowState:
    return WindowState(row.id, row.set_spec, row.from_date, row.until_date, row.resumption_token, row.resume_from,
                       row.pages, row.papers)


def covered_days(session: Session, set_spec: str) -> list[tuple[date, date]]:
    """The [from, through] day ranges of this set that finished harvests cover, in order."""
    rows = session.execute(
        select(BackfillWindow.from_date, BackfillWindow.covered_through)
        .where(BackfillWindow.set_spec == set_spec, BackfillWindow.status == DONE,
               BackfillWindow.covered_through.is_not(None), BackfillWindow.covered_through >= BackfillWindow.from_date)
        .order_by(BackfillWindow.from_date)
    )
    return [(start, through) for start, through in rows]


def running_windows(session: Session, set_spec: str, *, within: tuple[date, date]) -> list[WindowState]:
    """This set's harvests that stopped before their end (a kill, arXiv down), inside the given days."""
    rows = session.scalars(
        select(BackfillWindow)
        .where(BackfillWindow.set_spec == set_spec, BackfillWindow.status == RUNNING,
               BackfillWindow.from_date >= within[0], BackfillWindow.until_date <= within[1])
        .order_by(BackfillWindow.from_date)
    )
    return [_state(row) for row in rows]


def start_window(session: Session, *, set_spec: str, from_date: date, until_date: date) -> WindowState:
    """The window's row, new or taken up again: a running one keeps its place, a done one starts over."""
    now = datetime.now(UTC)
    table = BackfillWindow.__table__
    session.execute(
        insert_for(session)(table)
        .values(set_spec=set_spec, from_date=from_date, until_date=until_date, status=RUNNING, pages=0, papers=0,
                skipped=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["set_spec", "from_date", "until_date"])
    )
    key = (BackfillWindow.set_spec == set_spec, BackfillWindow.from_date == from_date,
           BackfillWindow.until_date == until_date)
    session.execute(
        update(BackfillWindow).where(*key, BackfillWindow.status == DONE)
        .values(status=RUNNING, resumption_token=None, resume_from=None, covered_through=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return _state(session.scalars(select(BackfillWindow).where(*key)).one())


def record_page(session: Session, window_id: int, *, resumption_token: str | None, resume_from: date | None,
                papers: int, skipped: int) -> None:
    """A page of this window is stored (in this same transaction): the next one starts at `resumption_token`."""
    values = {"resumption_token": resumption_token, "pages": BackfillWindow.pages + 1,
              "papers": BackfillWindow.papers + papers, "skipped": BackfillWindow.skipped + skipped,
              "updated_at": datetime.now(UTC)}
    if resume_from is not None:
        values["resume_from"] = resume_from
    session.execute(update(BackfillWindow).where(BackfillWindow.id == window_id).values(**values)
                    .execution_options(synchronize_session=False))


def forget_token(session: Session, window_id: int) -> None:
    """arXiv no longer knows the token (they expire at midnight UTC): resume from `resume_from` instead."""
    session.execute(update(BackfillWindow).where(BackfillWindow.id == window_id)
                    .values(resumption_token=None, updated_at=datetime.now(UTC))
                    .execution_options(synchronize_session=False))


def finish_window(session: Session, window_id: int, *, covered_through: date) -> None:
    session.execute(update(BackfillWindow).where(BackfillWindow.id == window_id)
                    .values(status=DONE, resumption_token=None, covered_through=covered_through,
                            updated_at=datetime.now(UTC))
                    .execution_options(synchronize_session=False))
