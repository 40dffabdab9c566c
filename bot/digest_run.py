"""One digest run's context and its lease: who is posting (workspace, channel, date), through what, and the right
to post.

A run is owned through a lease in the ledger (db.ledger.claim_run): one process per (team, channel, date),
short enough that a crashed owner's run is resumed within minutes. The owner id (host, pid and a random
part, new for every run) is the fencing token: right before each post, and before each re-send after a
429's Retry-After, `keep_lease` renews the lease with an UPDATE that only the current owner's id matches.
If another process took the run over meanwhile, that fails and this one stops (LeaseLost) without posting;
if it succeeds, nobody else can take the run for another LEASE, far longer than one request.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.digest_records import PostReport
from bot.message_poster import MessagePoster
from db import ledger

LEASE = timedelta(minutes=5)


class LeaseLost(Exception):
    """Another process took over the run (our lease expired); this one must stop posting."""


def process_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunContext:
    """Everything one run of the digest for (team, channel, date) works with, and what it did so far."""

    factory: sessionmaker[Session]
    poster: MessagePoster  # the workspace's own: it posts with that workspace's token
    settings: Settings
    team_id: str
    channel: str
    digest_date: date
    owner: str
    clock: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep
    pace_seconds: float = 1.0  # chat.postMessage allows about one message per second per channel
    report: PostReport = field(init=False)
    run: ledger.RunRecord | None = None  # set once the lease is ours
    # Slack may hold a message this run could not confirm (an unknown outcome, then no answer to the
    # lookup): the run must not give its papers back as if nothing had reached the channel.
    unconfirmed_post: bool = False

    def __post_init__(self) -> None:
        self.report = PostReport(self.channel, self.digest_date, "posted", team_id=self.team_id)

    @property
    def run_id(self) -> int:
        assert self.run is not None, "the run is claimed before anything else"
        return self.run.id

    def claim(self) -> ledger.RunRecord | None:
        """Take the run's lease (None: done, or another process holds it)."""
        with self.factory.begin() as session:
            self.run = ledger.claim_run(session, team_id=self.team_id, channel=self.channel,
                                        digest_date=self.digest_date,
                                        owner=self.owner, now=self.clock(), lease=LEASE)
        return self.run

    def keep_lease(self) -> None:
        """The fence: renew our lease, or raise LeaseLost if another process owns the run now."""
        with self.factory.begin() as session:
            if not ledger.renew_lease(session, run_id=self.run_id, owner=self.owner, now=self.clock(), lease=LEASE):
                raise LeaseLost(f"digest {self.digest_date} for {self.channel}: another process took the run over")

    def rerun_command(self) -> str:
        return f"`papers-bot digest --date {self.digest_date} --channel {self.channel}`"
