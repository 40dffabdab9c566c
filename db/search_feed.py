"""SQL that feeds the derived search index (bot/search_index.py): papers in build order, changes since a
watermark, the store's newest revision, and the reads a search filters or flags.

`papers.revision` is set by the database (migration 0006). A follower keeps a cursor (revision, id), asks
for every row at or after it, and asks `horizon` where the next read may start:

- SQLite serialises writers, so revisions grow in commit order: after reading, everything up to the
  highest revision is final, and the next read starts one past it.
- PostgreSQL's revision is the writing transaction's id, and transactions commit out of order: a row of
  transaction 100 can appear after rows of 101 were read. The horizon is the snapshot's: every transaction
  below `next_revision` has finished except the `running` ones. A follower moves its cursor no further than
  `next_revision` and keeps the running ones below its cursor to read again (`changes_in`) once they end.
  Rows read twice are harmless: the index replaces a paper by id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.orm import Session

from db.models import Paper, Read


@dataclass(frozen=True)
class IndexRow:
    """What the search index reads of one paper."""

    id: int
    revision: int
    arxiv_id: str
    title: str
    abstract: str
    author_names: str
    categories: str  # space-separated
    published: datetime


_COLUMNS = (Paper.id, Paper.revision, Paper.arxiv_id, Paper.title, Paper.abstract, Paper.author_names,
            Paper.categories, Paper.published)


def _rows(result) -> list[IndexRow]:
    return [IndexRow(*row) for row in result]


def papers_after_id(session: Session, *, after_id: int, limit: int) -> list[IndexRow]:
    """A full build reads the table in id order, one batch at a time."""
    return _rows(session.execute(select(*_COLUMNS).where(Paper.id > after_id).order_by(Paper.id).limit(limit)))


def changes_from(session: Session, *, revision: int, paper_id: int, limit: int) -> list[IndexRow]:
    """Rows whose (revision, id) is at or after the cursor, in that order."""
    cursor = tuple_(Paper.revision, Paper.id) >= tuple_(revision, paper_id)
    if session.bind.dialect.name == "sqlite":  # SQLite compares row values too, but plans this form better
        cursor = (Paper.revision > revision) | ((Paper.revision == revision) & (Paper.id >= paper_id))
    return _rows(session.execute(select(*_COLUMNS).where(cursor).order_by(Paper.revision, Paper.id).limit(limit)))


@dataclass(frozen=True)
class Horizon:
    """Every revision below `next_revision` is final (committed or rolled back), except `running`."""

    next_revision: int
    running: tuple[int, ...] = ()


_PG_HORIZON = text(
    "SELECT pg_snapshot_xmax(s)::text::bigint, "
    "ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(s) AS x) FROM pg_current_snapshot() AS s"
)


def horizon(session: Session) -> Horizon:
    """Take this before reading changes: anything that commits later is at or past it, or among `running`."""
    if session.bind.dialect.name == "postgresql":
        next_revision, running = session.execute(_PG_HORIZON).one()
        return Horizon(int(next_revision), tuple(sorted(int(x) for x in running)))
    return Horizon(newest_revision(session) + 1)


def changes_in(session: Session, *, revisions: Sequence[int]) -> list[IndexRow]:
    """Rows written by these transactions (ones that were still running when the cursor passed them)."""
    if not revisions:
        return []
    return _rows(session.execute(select(*_COLUMNS).where(Paper.revision.in_(list(revisions)))))


_NEWEST_REVISION = select(func.max(Paper.revision))  # built once: every index search asks it first


def newest_revision(session: Session) -> int:
    """The highest revision of a visible row (0 for an empty store): an index that has seen it is current."""
    return session.scalar(_NEWEST_REVISION) or 0


def paper_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Paper)) or 0


def read_ids(session: Session, *, team_id: str, user_id: str) -> list[str]:
    """Every paper the user read (the `unread` filter leaves them out before ranking, so pages stay full)."""
    return list(session.scalars(select(Read.arxiv_id).where(Read.team_id == team_id, Read.user_id == user_id)))


def read_among(session: Session, *, team_id: str, user_id: str, arxiv_ids: Iterable[str]) -> set[str]:
    """Which of these papers the user read (the flag on each hit of one page)."""
    ids = list(arxiv_ids)
    if not ids:
        return set()
    return set(session.scalars(select(Read.arxiv_id).where(
        Read.team_id == team_id, Read.user_id == user_id, Read.arxiv_id.in_(ids))))
