"""SQL for `saved_papers`: the papers each user saved for later. One row per (team, user, paper)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import Paper, SavedPaper
from db.papers import to_record
from db.records import SavedRecord


def save(session: Session, *, team_id: str, user_id: str, arxiv_id: str, saved_at: datetime) -> bool:
    """Put the paper on the user's list; True if it was not there. ON CONFLICT DO NOTHING makes double and
    concurrent clicks give exactly one row, keeping the first saved_at."""
    stmt = (
        insert_for(session)(SavedPaper)
        .values(team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, saved_at=saved_at)
        .on_conflict_do_nothing(index_elements=["team_id", "user_id", "arxiv_id"])
        .returning(SavedPaper.id)
    )
    return session.execute(stmt).first() is not None


def remove(session: Session, *, team_id: str, user_id: str, arxiv_id: str) -> bool:
    """Take the paper off the user's list (Remove, or it was marked read); True if it was there."""
    result = session.execute(delete(SavedPaper).where(
        SavedPaper.team_id == team_id, SavedPaper.user_id == user_id, SavedPaper.arxiv_id == arxiv_id))
    return (result.rowcount or 0) > 0


def saved_papers(session: Session, *, team_id: str, user_id: str, limit: int, offset: int = 0) -> list[SavedRecord]:
    """The user's saved papers, newest saved first."""
    rows = session.execute(
        select(SavedPaper, Paper)
        .join(Paper, Paper.arxiv_id == SavedPaper.arxiv_id)
        .where(SavedPaper.team_id == team_id, SavedPaper.user_id == user_id)
        .order_by(SavedPaper.saved_at.desc(), SavedPaper.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return [SavedRecord(paper=to_record(paper), saved_at=saved.saved_at) for saved, paper in rows]


def count_saved(session: Session, *, team_id: str, user_id: str) -> int:
    return session.scalar(select(func.count()).select_from(SavedPaper).where(
        SavedPaper.team_id == team_id, SavedPaper.user_id == user_id)) or 0
