"""SQL for `channel_topics`: a workspace channel's own digest keywords, exclusions and categories, who last changed
them, and the count of digest runs in a row that Slack refused for good (which pauses the channel)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import ChannelTopic


@dataclass(frozen=True)
class ChannelTopicRecord:
    team_id: str
    channel: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...]
    categories: tuple[str, ...]
    updated_at: datetime
    updated_by: str | None = None  # the Slack user who last changed it; None on rows from before 0005
    consecutive_failures: int = 0
    paused_at: datetime | None = None


def _record(row: ChannelTopic) -> ChannelTopicRecord:
    return ChannelTopicRecord(
        team_id=row.team_id,
        channel=row.channel,
        keywords=tuple(row.keywords or ()),
        exclude=tuple(row.exclude or ()),
        categories=tuple(row.categories or ()),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        consecutive_failures=row.consecutive_failures or 0,
        paused_at=row.paused_at,
    )


def get_channel_topic(session: Session, *, team_id: str, channel: str) -> ChannelTopicRecord | None:
    row = session.get(ChannelTopic, (team_id, channel))
    return _record(row) if row else None


def set_channel_topic(
    session: Session,
    *,
    team_id: str,
    channel: str,
    keywords: Sequence[str],
    exclude: Sequence[str] = (),
    categories: Sequence[str] = (),
    updated_at: datetime,
    updated_by: str | None = None,
) -> ChannelTopicRecord:
    """Store the channel's topic; a stored change also un-pauses the channel and clears its failure count."""
    row = session.get(ChannelTopic, (team_id, channel))
    if row is None:
        row = ChannelTopic(team_id=team_id, channel=channel)
        session.add(row)
    row.keywords, row.exclude, row.categories = list(keywords), list(exclude), list(categories)
    row.updated_at, row.updated_by = updated_at, updated_by
    row.consecutive_failures, row.paused_at = 0, None
    session.flush()
    return _record(row)


def topic_channels(session: Session, *, team_id: str) -> list[str]:
    """Every channel of the workspace with a stored topic that is not paused, in id order."""
    return list(session.scalars(select(ChannelTopic.channel)
                                .where(ChannelTopic.team_id == team_id, ChannelTopic.paused_at.is_(None))
                                .order_by(ChannelTopic.channel)))


def all_channel_topics(session: Session, *, team_id: str) -> list[ChannelTopicRecord]:
    """Every stored topic of the workspace, paused ones included, in channel order."""
    rows = session.scalars(select(ChannelTopic).where(ChannelTopic.team_id == team_id).order_by(ChannelTopic.channel))
    return [_record(row) for row in rows]


def delete_channel_topic(session: Session, *, team_id: str, channel: str) -> bool:
    return (session.execute(delete(ChannelTopic).where(ChannelTopic.team_id == team_id,
                                                       ChannelTopic.channel == channel)).rowcount or 0) > 0


def record_digest_success(session: Session, *, team_id: str, channel: str) -> None:
    """A digest reached the channel: its count of refused runs starts again from 0."""
    session.execute(update(ChannelTopic)
                    .where(ChannelTopic.team_id == team_id, ChannelTopic.channel == channel,
                           ChannelTopic.consecutive_failures != 0)
                    .values(consecutive_failures=0))


def record_digest_refused(session: Session, *, team_id: str, channel: str, pause_after: int,
                          now: datetime) -> ChannelTopicRecord | None:
    """Count one more run Slack refused for good; at `pause_after` in a row, pause the channel.

    Returns the channel's record only to the one caller whose UPDATE paused it (both statements are
    atomic on their row), so two processes recording the same run cannot both send the notice."""
    this = (ChannelTopic.team_id == team_id, ChannelTopic.channel == channel, ChannelTopic.paused_at.is_(None))
    session.execute(update(ChannelTopic).where(*this)
                    .values(consecutive_failures=ChannelTopic.consecutive_failures + 1))
    paused = session.execute(
        update(ChannelTopic)
        .where(*this,
               ChannelTopic.consecutive_failures >= pause_after)
        .values(paused_at=now)
    ).rowcount
    if not paused:
        return None
    session.expire_all()  # the UPDATEs bypassed the identity map
    return get_channel_topic(session, team_id=team_id, channel=channel)
