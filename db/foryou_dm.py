"""SQL for the morning For you DM: who asked for it, and which papers it already sent to whom."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import ForYouDm, ForYouDmSent


def subscribe(session: Session, *, team_id: str, user_id: str, now: datetime) -> bool:
    """True when the user was not subscribed yet."""
    stmt = (insert_for(session)(ForYouDm).values(team_id=team_id, user_id=user_id, since=now)
            .on_conflict_do_nothing(index_elements=["team_id", "user_id"]).returning(ForYouDm.user_id))
    return session.execute(stmt).first() is not None


def unsubscribe(session: Session, *, team_id: str, user_id: str) -> bool:
    result = session.execute(delete(ForYouDm).where(ForYouDm.team_id == team_id, ForYouDm.user_id == user_id))
    return (result.rowcount or 0) > 0


def is_subscribed(session: Session, *, team_id: str, user_id: str) -> bool:
    return session.get(ForYouDm, (team_id, user_id)) is not None


def subscribers(session: Session, *, team_id: str) -> list[tuple[str, str]]:
    """(team_id, user_id) of everyone in the workspace who asked for the DM, oldest subscription first."""
    rows = session.scalars(select(ForYouDm).where(ForYouDm.team_id == team_id).order_by(ForYouDm.since))
    return [(row.team_id, row.user_id) for row in rows]


def sent_ids(session: Session, *, team_id: str, user_id: str) -> set[str]:
    return set(session.scalars(select(ForYouDmSent.arxiv_id).where(ForYouDmSent.team_id == team_id,
                                                                    ForYouDmSent.user_id == user_id)))


def record_sent(session: Session, *, team_id: str, user_id: str, arxiv_ids: Sequence[str], now: datetime) -> None:
    for arxiv_id in dict.fromkeys(arxiv_ids):
        session.execute(insert_for(session)(ForYouDmSent)
                        .values(team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, sent_at=now)
                        .on_conflict_do_nothing(index_elements=["team_id", "user_id", "arxiv_id"]))
