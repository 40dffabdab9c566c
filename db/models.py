"""Typed SQLAlchemy models: the schema every other layer stores through.

The Alembic migrations in `db/migrations` are the source of truth for the live schema; these models
must match them (tests/db/test_migrations.py compares the two). Full-text index objects (SQLite FTS5 table and triggers,
PostgreSQL tsvector column) live only in the migrations and in `db/fts.py`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    FetchedValue,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both dialects.

    SQLite has no time zone type, so values are stored naive in UTC and made aware again on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Paper(Base):
    __tablename__ = "papers"
    __table_args__ = (
        UniqueConstraint("arxiv_id", name="uq_papers_arxiv_id"),
        Index("ix_papers_revision", "revision", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    arxiv_id: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    abstract: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]] = mapped_column(JSON)
    # Authors joined into one string: what the full-text index reads.
    author_names: Mapped[str] = mapped_column(Text)
    primary_category: Mapped[str] = mapped_column(String(64))
    # Space-separated, so `cat:` filters are a portable LIKE on both dialects.
    categories: Mapped[str] = mapped_column(Text)
    published: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)
    pdf_url: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    journal_ref: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set by the database on insert and on every change search reads (migration 0006): the watermark the
    # derived search index follows. Never written by the app.
    revision: Mapped[int] = mapped_column(BigInteger, server_default=FetchedValue(),
                                          server_onupdate=FetchedValue())


class ChannelTopic(Base):
    """A channel's digest topic; the channel from DIGEST_CHANNEL falls back to the environment's.

    `updated_by` is the Slack user who last changed it (None on rows from before 0005). A channel whose
    digests Slack keeps refusing for good counts `consecutive_failures` and, at the limit, is paused
    (`paused_at`): no digest until someone edits its topic again."""

    __tablename__ = "channel_topics"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # two workspaces may share a channel id
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    exclude: Mapped[list[str]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(64))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestRun(Base):
    """The ledger entry of one digest (team, channel, date); unique so two processes cannot both own it."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("team_id", "channel", "digest_date", name="uq_digest_runs_team_channel_date"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    digest_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # running | done | failed
    parent_ts: Mapped[str | None] = mapped_column(String(32))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paper_count: Mapped[int] = mapped_column(Integer, default=0)
    # The run's state, one column per step: its papers chosen (a resumed run posts the same digest), the
    # "arXiv is unavailable" notice posted (once). Replaces the old free-text `note`.
    planned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    notice_posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DigestItem(Base):
    """One paper planned for, then posted in, a digest. Unique per (team, channel): never posted twice there."""

    __tablename__ = "digest_items"
    __table_args__ = (UniqueConstraint("team_id", "channel", "arxiv_id", name="uq_digest_items_team_channel_paper"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    arxiv_id: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    message_ts: Mapped[str | None] = mapped_column(String(32))
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class Read(Base):
    """Who read which paper, when and how. One row per (team, user, paper)."""

    __tablename__ = "reads"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_reads_team_user_paper"),
        Index("ix_reads_team_user_read_at", "team_id", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))  # button | command | opened | home
    read_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ArxivPacing(Base):
    """One row (id 1): when the next arXiv request may start, shared by every process on this database.

    Seconds since the epoch on the database's clock, so processes on several hosts agree (db.arxiv_pacing).
    """

    __tablename__ = "arxiv_pacing"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_request_at: Mapped[float] = mapped_column(Double)


class SavedPaper(Base):
    """A paper a user saved for later. One row per (team, user, paper); marking it read removes it."""

    __tablename__ = "saved_papers"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_saved_papers_team_user_paper"),
        Index("ix_saved_papers_team_user_saved_at", "team_id", "user_id", "saved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    saved_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Follow(Base):
    """A user's followed search (`kv cache`, `author:"Song Han"`): new matching papers come by DM."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "query", name="uq_follows_team_user_query"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FollowAlert(Base):
    """A paper one of a user's follows matched; `sent_at` once a DM carried it. Unique per (team, user, paper):
    a paper is never sent to the same user twice."""

    __tablename__ = "follow_alerts"
    __table_args__ = (
        UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_follow_alerts_team_user_paper"),
        Index("ix_follow_alerts_unsent", "team_id", "user_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    arxiv_id: Mapped[str] = mapped_column(ForeignKey("papers.arxiv_id", ondelete="CASCADE"))
    query: Mapped[str] = mapped_column(Text)  # the follow that matched it first (said in the DM)
    score: Mapped[float] = mapped_column(Double)  # its search score then: most relevant first in the DM
    matched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaperVector(Base):
    """A paper's term vector for recommendations, computed at ingest (or by the backfill), one per paper.

    `vector` is the sparse vector as bytes (see bot/recommend/vectors.py for the layout), `model` names the
    tokenizer and layout that made it and `dim` its index space, so a change of either is seen and the
    backfill recomputes. `paper_version` is the arXiv version whose text it reflects: a new version's new
    abstract gets a new vector. Deleting a paper deletes its vector.
    """

    __tablename__ = "paper_vectors"

    paper_id: Mapped[int] = mapped_column(ForeignKey("papers.id", ondelete="CASCADE"), primary_key=True,
                                          autoincrement=False)
    model: Mapped[str] = mapped_column(String(64))
    dim: Mapped[int] = mapped_column(Integer)
    paper_version: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ForYouDm(Base):
    """A user who asked for the morning For you DM (`/papers dm on`); `/papers dm off` deletes the row."""

    __tablename__ = "foryou_dm_subscribers"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


class ForYouDmSent(Base):
    """A paper sent to a user in a morning DM: never sent to them again."""

    __tablename__ = "foryou_dm_sent"
    __table_args__ = (UniqueConstraint("team_id", "user_id", "arxiv_id", name="uq_foryou_dm_sent_team_user_paper"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    arxiv_id: Mapped[str] = mapped_column(String(64))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BackfillWindow(Base):
    """One OAI-PMH harvest of one set over a window of datestamps (`papers-bot backfill`), and how far it got.

    A running window keeps arXiv's resumption token and the newest datestamp stored so far, both written in the
    transaction that stores the page they follow, so a killed backfill resumes at the next page (or, once the
    token has expired, from that datestamp). A done window's [from_date, covered_through] needs no request again;
    `covered_through` stops the day before the harvest ended, since records of that day may still arrive.
    """

    __tablename__ = "backfill_windows"
    __table_args__ = (UniqueConstraint("set_spec", "from_date", "until_date", name="uq_backfill_windows_set_window"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    set_spec: Mapped[str] = mapped_column(String(64))
    from_date: Mapped[date] = mapped_column(Date)
    until_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    resumption_token: Mapped[str | None] = mapped_column(Text)
    resume_from: Mapped[date | None] = mapped_column(Date)
    covered_through: Mapped[date | None] = mapped_column(Date)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    papers: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Workspace(Base):
    """A Slack workspace the app serves or served. `uninstalled_at` set: its digests and DMs stopped then, and
    its data is purged RETENTION_AFTER_UNINSTALL_DAYS later (bot.workspaces). Rows of every workspace-owned table
    carry its team_id; '' there marks a row from before workspaces, not yet assigned (migration 0011)."""

    __tablename__ = "workspaces"

    team_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    installed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    uninstalled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# -- Slack's OAuth installations ------------------------------------------------------------------------------
# The tables of slack_sdk's SQLAlchemyInstallationStore and SQLAlchemyOAuthStateStore (handlers/oauth.py reads and
# writes them through those stores), column for column, so they come from a migration (0012) like every other
# table. slack_sdk stores naive UTC datetimes here, hence plain DateTime. tests/workspaces_oauth/test_schema.py
# compares these with the tables the installed slack_sdk builds, so an upgrade that changes them is noticed.


def _bot_columns() -> list[Column]:
    """The columns slack_bots and slack_installations share (the bot half of an installation)."""
    return [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("client_id", String(32), nullable=False),
        Column("app_id", String(32), nullable=False),
        Column("enterprise_id", String(32)),
        Column("enterprise_name", String(200)),
    ]


slack_installations = Table(
    "slack_installations",
    Base.metadata,
    *_bot_columns(),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", String(200)),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", String(200)),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_installations_idx", "client_id", "enterprise_id", "team_id", "user_id", "installed_at"),
)

slack_bots = Table(
    "slack_bots",
    Base.metadata,
    *_bot_columns(),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", String(200)),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", String(200)),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, nullable=False),
    Column("installed_at", DateTime, nullable=False),
    Index("slack_bots_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    "slack_oauth_states",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)
