"""SQL for `channel_topics`: a channel's own digest keywords, exclusions and categories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import ChannelTopic


@dataclass(frozen=True)
class ChannelTopicRecord:
    channel: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...]
    categories: tuple[str, ...]
    updated_at: datetime


def _record(row: ChannelTopic) -> ChannelTopicRecord:
    return ChannelTopicRecord(
        channel=row.channel,
        keywords=tuple(row.keywords or ()),
        exclude=tuple(row.exclude or ()),
        categories=tuple(row.categories or ()),
        updated_at=row.updated_at,
    )


def get_channel_topic(session: Session, channel: str) -> ChannelTopicRecord | None:
    row = session.get(ChannelTopic, channel)
    return _record(row) if row else None


def set_channel_topic(
    session: Session,
    *,
    channel: str,
    keywords: Sequence[str],
    exclude: Sequence[str] = (),
    categories: Sequence[str] = (),
    updated_at: datetime,
) -> ChannelTopicRecord:
    row = session.get(ChannelTopic, channel)
    if row is None:
        row = ChannelTopic(channel=channel)
        session.add(row)
    row.keywords, row.exclude, row.categories = list(keywords), list(exclude), list(categories)
    row.updated_at = updated_at
    session.flush()
    return _record(row)


def topic_channels(session: Session) -> list[str]:
    """Every channel with a stored topic, in id order."""
    return list(session.scalars(select(ChannelTopic.channel).order_by(ChannelTopic.channel)))


def delete_channel_topic(session: Session, channel: str) -> bool:
    return (session.execute(delete(ChannelTopic).where(ChannelTopic.channel == channel)).rowcount or 0) > 0
