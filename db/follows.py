"""SQL for `follows` (users' followed searches) and `follow_alerts` (papers they matched, and when a DM sent them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import Follow, FollowAlert, Paper, Read
from db.papers import to_record
from db.records import AlertRecord, FollowRecord


def _record(row: Follow) -> FollowRecord:
    return FollowRecord(id=row.id, team_id=row.team_id, user_id=row.user_id, query=row.query,
                        created_at=row.created_at)


def add_follow(session: Session, *, team_id: str, user_id: str, query: str, created_at: datetime) -> bool:
    """True if it is new; following the same query twice keeps the first."""
    stmt = (insert_for(session)(Follow)
            .values(team_id=team_id, user_id=user_id, query=query, created_at=created_at)
            .on_conflict_do_nothing(index_elements=["team_id", "user_id", "query"])
            .returning(Follow.id))
    return session.execute(stmt).first() is not None


def follows_of(session: Session, *, team_id: str, user_id: str) -> list[FollowRecord]:
    """The user's follows, oldest first (the numbers `/papers unfollow N` takes)."""
    rows = session.scalars(select(Follow).where(Follow.team_id == team_id, Follow.user_id == user_id)
                           .order_by(Follow.created_at, Follow.id)).all()
    return [_record(row) for row in rows]


def all_follows(session: Session, *, team_id: str) -> list[FollowRecord]:
    """Every follow of the workspace's users."""
    return [_record(row) for row in session.scalars(select(Follow).where(Follow.team_id == team_id)
                                                    .order_by(Follow.id)).all()]


def remove_follow(session: Session, *, team_id: str, user_id: str, follow_id: int) -> bool:
    result = session.execute(delete(Follow).where(Follow.team_id == team_id, Follow.user_id == user_id,
                                                  Follow.id == follow_id))
    return (result.rowcount or 0) > 0


def first_seen_since(session: Session, arxiv_ids: Sequence[str], since: datetime, until: datetime) -> set[str]:
    """Those of `arxiv_ids` first stored from `since` (a follow was made) up to `until`."""
    if not arxiv_ids:
        return set()
    return set(session.scalars(select(Paper.arxiv_id).where(Paper.arxiv_id.in_(list(arxiv_ids)),
                                                            Paper.first_seen_at >= since,
                                                            Paper.first_seen_at <= until)).all())


def earliest_new_published(session: Session, *, since: datetime, until: datetime) -> datetime | None:
    """The earliest publication time of the papers first stored between `since` and `until` (None: no new ones).
    Every new paper is published at or after it, so a follow's search can start there."""
    earliest = session.scalar(select(func.min(Paper.published)).where(Paper.first_seen_at >= since,
                                                                      Paper.first_seen_at <= until))
    # min() over a UTCDateTime column comes back without the type's processing on SQLite.
    if isinstance(earliest, str):
        earliest = datetime.fromisoformat(earliest)
    return earliest if earliest is None or earliest.tzinfo else earliest.replace(tzinfo=UTC)


def add_alert(session: Session, *, team_id: str, user_id: str, arxiv_id: str, query: str, score: float,
              matched_at: datetime) -> bool:
    """Gather a paper for the user's next DM; a paper gathered (or sent) before is never gathered again."""
    stmt = (insert_for(session)(FollowAlert)
            .values(team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, query=query, score=score,
                    matched_at=matched_at)
            .on_conflict_do_nothing(index_elements=["team_id", "user_id", "arxiv_id"])
            .returning(FollowAlert.id))
    return session.execute(stmt).first() is not None


def users_with_unsent(session: Session, *, team_id: str) -> list[tuple[str, str]]:
    """(team_id, user_id) of the workspace's users with follow alerts not sent yet."""
    rows = session.execute(select(FollowAlert.team_id, FollowAlert.user_id)
                           .where(FollowAlert.team_id == team_id, FollowAlert.sent_at.is_(None))
                           .distinct().order_by(FollowAlert.team_id, FollowAlert.user_id)).all()
    return [(team, user) for team, user in rows]


def unsent_alerts(session: Session, *, team_id: str, user_id: str) -> list[AlertRecord]:
    """The user's gathered papers not sent yet and not read since, most relevant first."""
    already_read = select(Read.id).where(Read.team_id == team_id, Read.user_id == user_id,
                                         Read.arxiv_id == FollowAlert.arxiv_id).exists()
    rows = session.execute(
        select(FollowAlert, Paper).join(Paper, Paper.arxiv_id == FollowAlert.arxiv_id)
        .where(FollowAlert.team_id == team_id, FollowAlert.user_id == user_id, FollowAlert.sent_at.is_(None),
               ~already_read)
        .order_by(FollowAlert.score.desc(), Paper.published.desc(), Paper.arxiv_id)
    ).all()
    return [AlertRecord(paper=to_record(paper), query=alert.query, score=alert.score) for alert, paper in rows]


def mark_sent(session: Session, *, team_id: str, user_id: str, arxiv_ids: Sequence[str], sent_at: datetime) -> int:
    """The papers a DM carried (or counted in its "and N more"): never sent to this user again."""
    if not arxiv_ids:
        return 0
    result = session.execute(update(FollowAlert).where(
        FollowAlert.team_id == team_id, FollowAlert.user_id == user_id, FollowAlert.sent_at.is_(None),
        FollowAlert.arxiv_id.in_(list(arxiv_ids)),
    ).values(sent_at=sent_at))
    return result.rowcount or 0


def count_follows(session: Session, *, team_id: str, user_id: str) -> int:
    return session.scalar(select(func.count()).select_from(Follow).where(
        Follow.team_id == team_id, Follow.user_id == user_id)) or 0
