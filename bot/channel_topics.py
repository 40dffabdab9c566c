"""Each channel's digest topic: looking it up (the stored one, else the environment's default), editing
it for `/papers topic`, and which channels get a digest at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.topics import Topic
from db import topics as topic_store

MAX_TOPIC_TERMS = 50
MAX_TOPIC_TERM_CHARS = 100


class TopicError(ValueError):
    """A topic edit that cannot be stored; the message is for the user."""


def default_topic(settings: Settings) -> Topic:
    return Topic(keywords=settings.digest_keywords, exclude=settings.digest_exclude,
                 categories=settings.digest_categories)


def topic_for_channel(session: Session, settings: Settings, channel: str | None) -> tuple[Topic, str]:
    """The channel's stored topic, else the environment's default; and where it came from."""
    stored = topic_store.get_channel_topic(session, channel) if channel else None
    if stored and stored.keywords:
        return Topic(keywords=stored.keywords, exclude=stored.exclude, categories=stored.categories), "channel"
    return default_topic(settings), "environment"


def channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str | None) -> tuple[Topic, str]:
    """For `/papers topic`: the channel's topic and where it comes from (`channel` or `environment`)."""
    with factory.begin() as session:
        return topic_for_channel(session, settings, channel)


def parse_terms(raw: str) -> tuple[str, ...]:
    """`sparse, KV cache, low-bit` -> the terms, trimmed, blanks and repeats dropped."""
    terms = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if len(terms) > MAX_TOPIC_TERMS:
        raise TopicError(f"At most {MAX_TOPIC_TERMS} terms, please (got {len(terms)}).")
    if any(len(t) > MAX_TOPIC_TERM_CHARS for t in terms):
        raise TopicError(f"Each term must be at most {MAX_TOPIC_TERM_CHARS} characters.")
    return terms


def edit_channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str, *, field_name: str,
                       terms: Sequence[str]) -> Topic:
    """Set the channel's keywords, exclusions or categories (starting from its current topic)."""
    if field_name == "keywords" and not terms:
        raise TopicError("A topic needs at least one keyword.")
    with factory.begin() as session:
        current, _ = topic_for_channel(session, settings, channel)
        values = {"keywords": current.keywords, "exclude": current.exclude, "categories": current.categories,
                  field_name: tuple(terms)}
        topic_store.set_channel_topic(session, channel=channel, updated_at=datetime.now(UTC), **values)
        return Topic(**values)


def reset_channel_topic(factory: sessionmaker[Session], channel: str) -> bool:
    with factory.begin() as session:
        return topic_store.delete_channel_topic(session, channel)


def digest_channels(session: Session, settings: Settings) -> list[str]:
    """DIGEST_CHANNEL, then every channel with a stored topic."""
    channels = [settings.digest_channel] if settings.digest_channel else []
    return list(dict.fromkeys(channels + topic_store.topic_channels(session)))
