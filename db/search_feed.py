"""SQL that feeds the derived search index (bot/search_index.py): papers in build order, changes since a
watermark, the store's newest revision, and the reads a search filters or flags.

`papers.revision` is set by the database (migration 0006). A follower keeps a cursor (revision, id) and
asks for every row at or after it. Where the next cursor starts is the dialect's business:

- SQLite serialises writers, so revisions grow in commit order: after reading, everything up to the
  highest revision is final, and the next read starts one past it.
- PostgreSQL's revision is the writing transaction's id, and transactions commit out of order: a row of
  transaction 100 can appear after rows of 101 were read. Only transactions older than the oldest one
  still running (`pg_snapshot_xmin`) are final, so the next read starts there, and rows of younger
  transactions already read are read again (the index replaces a paper by id, so that is harmless).
"""

from __future__ import annotations

from collections.abc import Iterable
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


def final_revision(session: Session) -> int:
    """Every change with a revision below this is committed and visible now; a follower that has read
    them all may start its next read here."""
    if session.bind.dialect.name == "postgresql":
        return int(session.scalar(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")))
    return newest_revision(session) + 1


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
