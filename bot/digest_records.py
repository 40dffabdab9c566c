"""The digest's record types, shared by the run (bot.digest*) and the pure renderers without a cycle:
what a digest holds (`Digest`, `DigestEntry`) and what a run did (`PostReport`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime

from bot.topics import Topic
from db.records import PaperRecord


@dataclass(frozen=True)
class DigestEntry:
    paper: PaperRecord
    matched: tuple[str, ...]


@dataclass(frozen=True)
class Digest:
    channel: str | None
    digest_date: date
    topic: Topic
    entries: tuple[DigestEntry, ...]

    @property
    def papers(self) -> list[PaperRecord]:
        return [e.paper for e in self.entries]

    def keyword_counts(self) -> list[tuple[str, int]]:
        """How many papers each keyword matched, in the topic's keyword order, zeros left out."""
        counts = Counter(k for e in self.entries for k in e.matched)
        return [(k, counts[k]) for k in self.topic.keywords if counts[k]]


@dataclass
class PostReport:
    channel: str
    digest_date: date
    status: str  # posted | empty | already-done | busy | failed
    papers_posted: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)
    retry_at: datetime | None = None  # busy: when the other lease expires; failed on an outage: try then
    database_error: str | None = None  # the database failed mid-run: the driver's one line (never the URL)
    team_id: str | None = None  # the workspace the channel is in

    def summary(self) -> str:
        text = f"digest {self.digest_date} to {self.channel}: {self.status}"
        if self.status in ("posted", "empty", "failed"):
            text += f", {self.papers_posted} papers in {self.messages} messages"
        if self.errors:
            text += f", {len(self.errors)} errors"
        return text
