"""Frozen records that cross from storage into the domain; ORM rows never leave `db/`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PaperRecord:
    arxiv_id: str  # version-less, e.g. 2503.14881 or hep-th/9901001
    version: int
    title: str
    abstract: str
    authors: tuple[str, ...]
    primary_category: str
    categories: tuple[str, ...]
    published: datetime
    updated: datetime
    pdf_url: str | None = None
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None

    @property
    def versioned_id(self) -> str:
        return f"{self.arxiv_id}v{self.version}"

    @property
    def abs_url(self) -> str:
        # The seed digest links http://arxiv.org/abs/IDvN; users know that form.
        return f"http://arxiv.org/abs/{self.versioned_id}"

    @property
    def pdf_link(self) -> str:
        return self.pdf_url or f"https://arxiv.org/pdf/{self.versioned_id}"


@dataclass(frozen=True)
class SearchHit:
    """One full-text match: the paper, its rank score, and whether the asking user has read it."""

    paper: PaperRecord
    score: float  # higher is better; comparable within one result list only
    read: bool


@dataclass(frozen=True)
class UpsertCounts:
    new: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.new + other.new, self.updated + other.updated, self.unchanged + other.unchanged
        )


@dataclass(frozen=True)
class ReadRecord:
    """One user's read of a paper: how (button, command, opened, home) and when."""

    paper: PaperRecord
    source: str
    read_at: datetime


@dataclass(frozen=True)
class DigestPaper:
    """A paper posted in a digest of this workspace: when it was last posted, and where (the channel and the ts of
    the thread reply that carries it, for a link to it)."""

    paper: PaperRecord
    posted_at: datetime
    channel: str | None = None
    message_ts: str | None = None


@dataclass(frozen=True)
class SavedRecord:
    """A paper on one user's saved-for-later list, with when they saved it."""

    paper: PaperRecord
    saved_at: datetime


@dataclass(frozen=True)
class FollowRecord:
    """One followed search of a user."""

    id: int
    team_id: str
    user_id: str
    query: str
    created_at: datetime


@dataclass(frozen=True)
class AlertRecord:
    """A new paper one of a user's follows matched, for their next DM: which follow, and how well."""

    paper: PaperRecord
    query: str
    score: float
