"""Each channel's digest topic: looking it up (the stored one, else the environment's default), who may
edit it for `/papers topic` and storing the edit, which channels get a digest at all, and pausing a
channel whose digests Slack keeps refusing.

Who may change a channel's topic (`edit_verdict`, pure): workspace admins and owners, the channel's
creator, and the users named in DIGEST_EDITORS. A direct message or group DM never gets a topic, whoever
asks. The handler asks Slack for the facts and hands them over as an `Editor`.

Pausing: a channel with a stored topic whose digest Slack stops for good (bot.slack_errors' STOP codes:
not_in_channel, channel_not_found, is_archived, …) on PAUSE_AFTER_REFUSED_RUNS runs in a row is paused:
it leaves `digest_channels()` and the person who last set its topic gets one notice. Any topic edit in
the channel un-pauses it. DIGEST_CHANNEL is the operator's and is never paused (each failed run logs
what to do instead).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.digest_records import PostReport
from bot.slack_errors import SlackErrorEffect, effect_of
from bot.topics import Topic
from db import topics as topic_store

log = logging.getLogger(__name__)

MAX_TOPIC_TERMS = 50
MAX_TOPIC_TERM_CHARS = 100
# Three digest days in a row: long enough to ride out a channel being renamed or the bot being re-invited,
# short enough that a channel nobody reads stops being retried within a week.
PAUSE_AFTER_REFUSED_RUNS = 3


@dataclass(frozen=True)
class Editor:
    """What Slack says about the user who asks to change a channel's topic."""

    user_id: str
    is_admin: bool  # a workspace admin, owner or primary owner
    is_channel_creator: bool


class EditVerdict(Enum):
    ALLOWED = "allowed"
    NOT_AN_EDITOR = "not-an-editor"
    DIRECT_MESSAGE = "direct-message"


def edit_verdict(editor: Editor, settings: Settings, *, direct_message: bool) -> EditVerdict:
    """May `editor` change the topic of this channel? (`direct_message`: a DM or group DM.)"""
    if direct_message:
        return EditVerdict.DIRECT_MESSAGE
    if editor.is_admin or editor.is_channel_creator or editor.user_id in settings.digest_editors:
        return EditVerdict.ALLOWED
    return EditVerdict.NOT_AN_EDITOR


class TopicError(ValueError):
    """A topic edit that cannot be stored; the message is for the user."""


def default_topic(settings: Settings) -> Topic:
    return Topic(keywords=settings.digest_keywords, exclude=settings.digest_exclude,
                 categories=settings.digest_categories)


def topic_for_channel(session: Session, settings: Settings, channel: str | None, *,
                      team_id: str) -> tuple[Topic, str]:
    """The workspace channel's stored topic, else the environment's default; and where it came from."""
    stored = topic_store.get_channel_topic(session, team_id=team_id, channel=channel) if channel else None
    if stored and stored.keywords:
        return Topic(keywords=stored.keywords, exclude=stored.exclude, categories=stored.categories), "channel"
    return default_topic(settings), "environment"


def channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str | None, *,
                  team_id: str) -> tuple[Topic, str]:
    """For `/papers topic`: the channel's topic and where it comes from (`channel` or `environment`)."""
    with factory.begin() as session:
        return topic_for_channel(session, settings, channel, team_id=team_id)


def parse_terms(raw: str) -> tuple[str, ...]:
    """`sparse, KV cache, low-bit` -> the terms, trimmed, blanks and repeats dropped."""
    terms = tuple(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))
    if len(terms) > MAX_TOPIC_TERMS:
        raise TopicError(f"At most {MAX_TOPIC_TERMS} terms, please (got {len(terms)}).")
    if any(len(t) > MAX_TOPIC_TERM_CHARS for t in terms):
        raise TopicError(f"Each term must be at most {MAX_TOPIC_TERM_CHARS} characters.")
    return terms


def check_edit(*, field_name: str, terms: Sequence[str]) -> None:
    """Raise TopicError for an edit that cannot be stored, before anyone is asked or told about it."""
    if field_name == "keywords" and not terms:
        raise TopicError("A topic needs at least one keyword.")


def edit_channel_topic(factory: sessionmaker[Session], settings: Settings, channel: str, *, team_id: str,
                       field_name: str, terms: Sequence[str], updated_by: str | None = None) -> Topic:
    """Set the channel's keywords, exclusions or categories (starting from its current topic), recording who
    did it; a paused channel gets its digest again."""
    check_edit(field_name=field_name, terms=terms)
    with factory.begin() as session:
        current, _ = topic_for_channel(session, settings, channel, team_id=team_id)
        values = {"keywords": current.keywords, "exclude": current.exclude, "categories": current.categories,
                  field_name: tuple(terms)}
        topic_store.set_channel_topic(session, team_id=team_id, channel=channel, updated_at=datetime.now(UTC),
                                      updated_by=updated_by,
                                      **values)
        return Topic(**values)


def reset_channel_topic(factory: sessionmaker[Session], channel: str, *, team_id: str) -> bool:
    with factory.begin() as session:
        return topic_store.delete_channel_topic(session, team_id=team_id, channel=channel)


def paused_since(factory: sessionmaker[Session], channel: str, *, team_id: str) -> datetime | None:
    """When the workspace channel's digest was paused, or None when it is not."""
    with factory.begin() as session:
        stored = topic_store.get_channel_topic(session, team_id=team_id, channel=channel)
    return stored.paused_at if stored else None


def digest_channels(session: Session, settings: Settings, *, team_id: str,
                    with_digest_channel: bool = True) -> list[str]:
    """The workspace's digest channels: DIGEST_CHANNEL (when the workspace is the one it belongs to), then every
    channel with a stored topic that is not paused."""
    channels = [settings.digest_channel] if settings.digest_channel and with_digest_channel else []
    return list(dict.fromkeys(channels + topic_store.topic_channels(session, team_id=team_id)))


@dataclass(frozen=True)
class PausedChannel:
    """A channel just paused: who to tell (None: nobody known), and why."""

    team_id: str
    channel: str
    last_editor: str | None
    refused_runs: int
    error: str


def refused_for_good(report: PostReport) -> str | None:
    """The Slack error that stopped this run until an admin acts (not_in_channel, …), if that is what stopped it."""
    if report.status != "failed":
        return None
    return next((code for code in report.errors if effect_of(code) is SlackErrorEffect.STOP), None)


def note_digest_outcome(factory: sessionmaker[Session], settings: Settings, report: PostReport, *, team_id: str,
                        notify: Callable[[PausedChannel], bool] | None = None, now: datetime | None = None,
                        ) -> PausedChannel | None:
    """Count a run Slack refused for good (or reset the count after a posted one); pause the channel at
    PAUSE_AFTER_REFUSED_RUNS and send its one notice through `notify` (True when it went out)."""
    if report.channel == settings.digest_channel:
        return None
    error = refused_for_good(report)
    if error is None and report.status not in ("posted", "empty"):
        return None  # busy, already done, or Slack failing for now: says nothing about the channel
    try:
        with factory.begin() as session:
            if error is None:
                topic_store.record_digest_success(session, team_id=team_id, channel=report.channel)
                return None
            stored = topic_store.record_digest_refused(session, team_id=team_id, channel=report.channel,
                                                       now=now or datetime.now(UTC),
                                                       pause_after=PAUSE_AFTER_REFUSED_RUNS)
    except SQLAlchemyError as err:  # the next run counts again; the digests of other channels must go on
        log.warning("digest to %s: could not record the run's outcome (%s)", report.channel, type(err).__name__)
        return None
    if stored is None:
        return None
    paused = PausedChannel(team_id=team_id, channel=stored.channel, last_editor=stored.updated_by,
                           refused_runs=stored.consecutive_failures, error=error)
    if not (paused.last_editor and notify is not None and notify(paused)):
        log.warning("digest to %s paused after %d runs in a row refused by Slack (%s); nobody was told in Slack: "
                    "invite the bot there and change the channel's topic to resume it", paused.channel,
                    paused.refused_runs, paused.error)
    return paused


def topics_of_channels(factory: sessionmaker[Session], settings: Settings, channels, *, team_id: str) -> list[Topic]:
    """The digest topics of these channels of the workspace (the default topic for those without their own), each
    once: what a
    reader with no reads yet is shown papers from."""
    with factory.begin() as session:
        topics = [topic_for_channel(session, settings, channel, team_id=team_id)[0] for channel in sorted(channels)]
    return list(dict.fromkeys(topics)) or [default_topic(settings)]
