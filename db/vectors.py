"""SQL for recommendations: paper vectors (store, find missing, load a window), a reader's read vectors and
the key of their reads, and the workspace's read counts (distinct readers, never who).

Vectors are opaque bytes here; bot/recommend/vectors.py owns their layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import Paper, PaperVector, Read

_CHUNK = 500


@dataclass(frozen=True)
class PaperText:
    """What a vector is computed from."""

    paper_id: int
    version: int
    title: str
    abstract: str


@dataclass(frozen=True)
class WindowRow:
    arxiv_id: str
    published: datetime
    vector: bytes


@dataclass(frozen=True)
class ReadVector:
    arxiv_id: str
    read_at: datetime
    vector: bytes


@dataclass(frozen=True)
class ReadCount:
    arxiv_id: str
    readers: int  # distinct users of the workspace
    last_read_at: datetime


def _stale(model: str):
    """Papers with no vector, a vector of another model, or one made from an older version of the paper."""
    return or_(PaperVector.paper_id.is_(None), PaperVector.model != model, PaperVector.paper_version != Paper.version)


def texts_needing_vectors(session: Session, *, model: str, arxiv_ids: Sequence[str] | None = None,
                          after_id: int = 0, limit: int = _CHUNK) -> list[PaperText]:
    """Papers (of `arxiv_ids`, or all, by id from `after_id`) whose vector is missing or stale, by id."""
    stmt = (
        select(Paper.id, Paper.version, Paper.title, Paper.abstract)
        .outerjoin(PaperVector, PaperVector.paper_id == Paper.id)
        .where(_stale(model), Paper.id > after_id)
        .order_by(Paper.id)
        .limit(limit)
    )
    if arxiv_ids is not None:
        stmt = stmt.where(Paper.arxiv_id.in_(list(arxiv_ids)))
    return [PaperText(*row) for row in session.execute(stmt)]


def upsert_vectors(session: Session, *, model: str, dim: int, computed_at: datetime,
                   vectors: Sequence[tuple[int, int, bytes]]) -> int:
    """Store (paper_id, paper_version, vector) rows, replacing what a paper had. Returns how many."""
    table = PaperVector.__table__
    for start in range(0, len(vectors), _CHUNK):
        rows = [
            {"paper_id": paper_id, "model": model, "dim": dim, "paper_version": version, "vector": vector,
             "computed_at": computed_at}
            for paper_id, version, vector in vectors[start : start + _CHUNK]
        ]
        stmt = insert_for(session)(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["paper_id"],
            set_={name: stmt.excluded[name] for name in ("model", "dim", "paper_version", "vector", "computed_at")},
        )
        session.execute(stmt, rows)
    return len(vectors)


def newest_published(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Paper.published)))


def vectors_state(session: Session) -> tuple[int | None, datetime | None]:
    """(the highest paper id with a vector, when the last vector was computed): a new paper's vector raises
    the first, a replaced one the second, so it tells a process whether what it loaded earlier still holds.
    Two queries of one max() each, which both databases answer from an index; SQLite answers one query with
    both by reading every row. (A writer whose clock runs behind the last writer's could replace a vector
    unnoticed until the next change: the processes of one deployment share a clock.)"""
    last_id = session.scalar(select(func.max(PaperVector.paper_id)))
    last_computed = session.scalar(select(func.max(PaperVector.computed_at)))
    return last_id, None if last_computed is None else _aware(last_computed)


def window_vectors(session: Session, *, model: str, start: datetime) -> list[WindowRow]:
    """Every paper first published at or after `start` that has a current vector, by id."""
    rows = session.execute(
        select(Paper.arxiv_id, Paper.published, PaperVector.vector)
        .join(PaperVector, PaperVector.paper_id == Paper.id)
        .where(Paper.published >= start, PaperVector.model == model, PaperVector.paper_version == Paper.version)
        .order_by(Paper.id)
    )
    return [WindowRow(*row) for row in rows]


def paper_vectors(session: Session, *, model: str, arxiv_ids: Sequence[str]) -> dict[str, bytes]:
    """The current vectors of these papers (those that have one)."""
    found: dict[str, bytes] = {}
    ids = list(dict.fromkeys(arxiv_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(Paper.arxiv_id, PaperVector.vector)
            .join(PaperVector, PaperVector.paper_id == Paper.id)
            .where(Paper.arxiv_id.in_(ids[start : start + _CHUNK]), PaperVector.model == model)
        )
        found.update((arxiv_id, vector) for arxiv_id, vector in rows)
    return found


def reads_key(session: Session, *, team_id: str, user_id: str) -> tuple[int, datetime | None]:
    """(number of reads, latest read_at) of one user: their reads changed when this did."""
    count, last = session.execute(
        select(func.count(), func.max(Read.read_at)).where(Read.team_id == team_id, Read.user_id == user_id)
    ).one()
    return count or 0, None if last is None else _aware(last)


def read_vectors(session: Session, *, team_id: str, user_id: str, model: str, limit: int) -> list[ReadVector]:
    """The user's `limit` latest reads that have a vector, newest first."""
    rows = session.execute(
        select(Read.arxiv_id, Read.read_at, PaperVector.vector)
        .join(Paper, Paper.arxiv_id == Read.arxiv_id)
        .join(PaperVector, and_(PaperVector.paper_id == Paper.id, PaperVector.model == model))
        .where(Read.team_id == team_id, Read.user_id == user_id)
        .order_by(Read.read_at.desc(), Read.id.desc())
        .limit(limit)
    )
    return [ReadVector(*row) for row in rows]


def read_ids(session: Session, *, team_id: str, user_id: str) -> set[str]:
    return set(session.scalars(select(Read.arxiv_id).where(Read.team_id == team_id, Read.user_id == user_id)))


def read_counts(session: Session, *, team_id: str, since: datetime, limit: int | None = None) -> list[ReadCount]:
    """Papers read in the workspace since `since`, most distinct readers first, the most recently read first
    among equals, then by id. Counts only: who read is never returned."""
    readers = func.count(func.distinct(Read.user_id))
    last = func.max(Read.read_at)
    stmt = (
        select(Read.arxiv_id, readers, last)
        .where(Read.team_id == team_id, Read.read_at >= since)
        .group_by(Read.arxiv_id)
        .order_by(readers.desc(), last.desc(), Read.arxiv_id)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return [ReadCount(arxiv_id, count, _aware(when)) for arxiv_id, count, when in session.execute(stmt)]


def _aware(value: datetime | str) -> datetime:
    # max() over a UTCDateTime column comes back without the type's processing on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
