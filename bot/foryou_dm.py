"""The opt-in morning For you DM: `/papers dm on|off`, and each subscriber's top new papers at digest time.

A paper goes to a user in this DM once, ever, and never one they have read (For you leaves reads out). Nothing new:
no DM. Papers are recorded as sent only once Slack took the DM (handlers.dms), so a failed DM is tried again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot import recommend
from db import foryou_dm as dm_store

DM_PAPERS = 5


@dataclass(frozen=True)
class MorningDm:
    team_id: str
    user_id: str
    page: recommend.ForYouPage


def set_dm(factory: sessionmaker[Session], *, team_id: str, user_id: str, enabled: bool,
           now: datetime | None = None) -> bool:
    """Turn the DM on or off for the user; True when that changed anything."""
    with factory.begin() as session:
        if enabled:
            return dm_store.subscribe(session, team_id=team_id, user_id=user_id, now=now or datetime.now(UTC))
        return dm_store.unsubscribe(session, team_id=team_id, user_id=user_id)


def dm_enabled(factory: sessionmaker[Session], *, team_id: str, user_id: str) -> bool:
    with factory.begin() as session:
        return dm_store.is_subscribed(session, team_id=team_id, user_id=user_id)


def morning_dms(factory: sessionmaker[Session], *, team_id: str, window_days: int,
                limit: int = DM_PAPERS) -> list[MorningDm]:
    """Every subscriber in the workspace: their unread papers not sent to them before, best first; subscribers with
    none are left out."""
    with factory.begin() as session:
        people = [(team, user, dm_store.sent_ids(session, team_id=team, user_id=user))
                  for team, user in dm_store.subscribers(session, team_id=team_id)]
    due = []
    for team, user, sent in people:
        page = recommend.for_you_by_reads(factory, team_id=team, user_id=user, limit=limit, topics=(),
                                          window_days=window_days, exclude=sent)
        if page.items:
            due.append(MorningDm(team_id=team, user_id=user, page=page))
    return due


def mark_sent(factory: sessionmaker[Session], dm: MorningDm, *, now: datetime | None = None) -> None:
    ids: Sequence[str] = [item.paper.arxiv_id for item in dm.page.items]
    with factory.begin() as session:
        dm_store.record_sent(session, team_id=dm.team_id, user_id=dm.user_id, arxiv_ids=ids,
                             now=now or datetime.now(UTC))
