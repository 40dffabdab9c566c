"""SQL for `reads`: who read which paper, when and how. One row per (team, user, paper)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import DigestItem, Paper, Read
from db.papers import to_record
from db.records import DigestPaper, ReadRecord


def upsert_read(session: Session, *, team_id: str, user_id: str, arxiv_id: str, source: str,
                read_at: datetime) -> bool:
    """Record a read; a second read of the same paper keeps the first. Returns True if it was new.

    INSERT … ON CONFLICT DO NOTHING makes double and concurrent clicks give exactly one row.
    """
    stmt = (
        insert_for(session)(Read)
        .values(team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, source=source, read_at=read_at)
        .on_conflict_do_nothing(index_elements=["team_id", "user_id", "arxiv_id"])
        .returning(Read.id)
    )
    return session.execute(stmt).first() is not None


def delete_read(session: Session, *, team_id: str, user_id: str, arxiv_id: str) -> bool:
    result = session.execute(
        delete(Read).where(Read.team_id == team_id, Read.user_id == user_id, Read.arxiv_id == arxiv_id)
    )
    return (result.rowcount or 0) > 0


def get_read(session: Session, *, team_id: str, user_id: str, arxiv_id: str) -> ReadRecord | None:
    row = session.execute(
        select(Read, Paper)
        .join(Paper, Paper.arxiv_id == Read.arxiv_id)
        .where(Read.team_id == team_id, Read.user_id == user_id, Read.arxiv_id == arxiv_id)
    ).first()
    if row is None:
        return None
    read, paper = row
    return ReadRecord(paper=to_record(paper), source=read.source, read_at=read.read_at)


def history(session: Session, *, team_id: str, user_id: str, limit: int, offset: int = 0) -> list[ReadRecord]:
    """The user's reads, newest first."""
    rows = session.execute(
        select(Read, Paper)
        .join(Paper, Paper.arxiv_id == Read.arxiv_id)
        .where(Read.team_id == team_id, Read.user_id == user_id)
        .order_by(Read.read_at.desc(), Read.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [ReadRecord(paper=to_record(paper), source=read.source, read_at=read.read_at) for read, paper in rows]


def count_reads(session: Session, *, team_id: str, user_id: str, since: datetime | None = None) -> int:
    stmt = select(func.count()).select_from(Read).where(Read.team_id == team_id, Read.user_id == user_id)
    if since is not None:
        stmt = stmt.where(Read.read_at >= since)
    return session.scalar(stmt) or 0


def _unread_posted_items(*, team_id: str, user_id: str, posted_since: datetime, channels: Collection[str]):
    already_read = exists().where(
        Read.team_id == team_id, Read.user_id == user_id, Read.arxiv_id == DigestItem.arxiv_id
    )
    return (
        DigestItem.team_id == team_id,
        DigestItem.posted_at.is_not(None),
        DigestItem.posted_at >= posted_since,
        DigestItem.channel.in_(sorted(channels)),
        ~already_read,
    )


def unread_digest_papers(session: Session, *, team_id: str, user_id: str, posted_since: datetime,
                         channels: Collection[str], limit: int) -> list[DigestPaper]:
    """Papers posted in digests in `channels` since `posted_since` that the user has not read, newest post
    first, each with the channel and reply that carried it. A paper posted in two channels appears once, at its
    latest post.
    """
    conditions = _unread_posted_items(team_id=team_id, user_id=user_id, posted_since=posted_since,
                                      channels=channels)
    last_posted = func.max(DigestItem.posted_at).label("last_posted")
    latest = (
        select(DigestItem.arxiv_id, last_posted, func.min(DigestItem.position).label("position"))
        .where(*conditions)
        .group_by(DigestItem.arxiv_id)
        .subquery()
    )
    rows = session.execute(
        select(Paper, latest.c.last_posted)
        .join(latest, latest.c.arxiv_id == Paper.arxiv_id)
        .order_by(latest.c.last_posted.desc(), latest.c.position, Paper.arxiv_id)
        .limit(limit)
    ).all()
    where = _latest_posting(session, [paper.arxiv_id for paper, _ in rows], team_id=team_id, channels=channels)
    return [DigestPaper(paper=to_record(paper), posted_at=_aware(posted), **where.get(paper.arxiv_id, {}))
            for paper, posted in rows]


def _latest_posting(session: Session, arxiv_ids: list[str], *, team_id: str,
                    channels: Collection[str]) -> dict[str, dict]:
    """arxiv_id -> {channel, message_ts} of its latest posting in `channels` (one small query for a page)."""
    if not arxiv_ids:
        return {}
    rows = session.execute(
        select(DigestItem.arxiv_id, DigestItem.channel, DigestItem.message_ts, DigestItem.posted_at)
        .where(DigestItem.team_id == team_id, DigestItem.arxiv_id.in_(arxiv_ids),
               DigestItem.channel.in_(sorted(channels)),
               DigestItem.message_ts.is_not(None))
        .order_by(DigestItem.posted_at)
    ).all()
    return {arxiv_id: {"channel": channel, "message_ts": ts} for arxiv_id, channel, ts, _ in rows}


def count_posted_digest_papers(session: Session, *, team_id: str, posted_since: datetime,
                               channels: Collection[str]) -> int:
    """How many papers the workspace's digests in `channels` posted since `posted_since`, read or not (0: no digest
    yet)."""
    stmt = select(func.count(DigestItem.id)).where(
        DigestItem.team_id == team_id, DigestItem.posted_at.is_not(None), DigestItem.posted_at >= posted_since,
        DigestItem.channel.in_(sorted(channels)))
    return session.scalar(stmt) or 0


def count_unread_digest_papers(session: Session, *, team_id: str, user_id: str, posted_since: datetime,
                               channels: Collection[str]) -> int:
    conditions = _unread_posted_items(team_id=team_id, user_id=user_id, posted_since=posted_since,
                                      channels=channels)
    stmt = (
        select(func.count(func.distinct(DigestItem.arxiv_id)))
        .select_from(DigestItem)
        .join(Paper, Paper.arxiv_id == DigestItem.arxiv_id)
        .where(*conditions)
    )
    return session.scalar(stmt) or 0


def _aware(value: datetime) -> datetime:
    # max() over a UTCDateTime column comes back without the type's processing on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
