"""SQL for the digest ledger: `digest_runs` (one per workspace, channel and date) and `digest_items` (one per
workspace, channel and paper). Every lookup names the workspace (team_id): two workspaces may both have a
channel C123, and a paper posted in one's C123 is still new to the other's.

Exactly-once posting rests on two unique constraints, not on timing:
- (team_id, channel, digest_date) on `digest_runs`: a run is owned through a lease taken by INSERT, or by an
  atomic conditional UPDATE once an earlier owner's lease has expired and the run is not done;
- (team_id, channel, arxiv_id) on `digest_items`: a paper is planned for a channel once, ever, so it can never
  be posted there twice, not even in another day's digest.
Each posted message's ts is written right after Slack returns it, so a resumed run posts only the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import DigestItem, DigestRun

RUNNING, DONE, FAILED = "running", "done", "failed"


@dataclass(frozen=True)
class RunRecord:
    id: int
    team_id: str
    channel: str
    digest_date: date
    status: str
    parent_ts: str | None
    lease_owner: str | None
    lease_expires_at: datetime | None
    paper_count: int
    planned_at: datetime | None  # the papers were chosen, once, so a resumed run posts the same digest
    notice_posted_at: datetime | None  # the "arXiv is unavailable" notice went out for this run, once
    started_at: datetime
    finished_at: datetime | None

    @property
    def planned(self) -> bool:
        return self.planned_at is not None


@dataclass(frozen=True)
class ItemRecord:
    id: int
    run_id: int
    arxiv_id: str
    position: int
    message_ts: str | None
    error: str | None


def _run(row: DigestRun) -> RunRecord:
    return RunRecord(
        id=row.id, team_id=row.team_id, channel=row.channel, digest_date=row.digest_date, status=row.status,
        parent_ts=row.parent_ts,
        lease_owner=row.lease_owner, lease_expires_at=row.lease_expires_at, paper_count=row.paper_count or 0,
        planned_at=row.planned_at, notice_posted_at=row.notice_posted_at, started_at=row.started_at,
        finished_at=row.finished_at,
    )


def get_run(session: Session, *, team_id: str, channel: str, digest_date: date) -> RunRecord | None:
    row = session.scalar(select(DigestRun).where(DigestRun.team_id == team_id, DigestRun.channel == channel,
                                                 DigestRun.digest_date == digest_date))
    return _run(row) if row else None


def claim_run(
    session: Session, *, team_id: str, channel: str, digest_date: date, owner: str, now: datetime,
    lease: timedelta
) -> RunRecord | None:
    """Take the run's lease, or return None when the run is done or another owner's lease is live.

    INSERT … ON CONFLICT DO NOTHING lets exactly one of several racing processes create the row; the
    others fall through to an UPDATE whose WHERE only an expired (or our own) lease satisfies, and
    which the database applies atomically, so at most one of them wins that too.
    """
    expires = now + lease
    created = session.execute(
        insert_for(session)(DigestRun)
        .values(team_id=team_id, channel=channel, digest_date=digest_date, status=RUNNING, lease_owner=owner,
                lease_expires_at=expires, paper_count=0, started_at=now)
        .on_conflict_do_nothing(index_elements=["team_id", "channel", "digest_date"])
        .returning(DigestRun.id)
    ).first()
    if created is None:
        taken = session.execute(
            update(DigestRun)
            .where(
                DigestRun.team_id == team_id,
                DigestRun.channel == channel,
                DigestRun.digest_date == digest_date,
                DigestRun.status != DONE,
                or_(DigestRun.lease_owner == owner, DigestRun.lease_owner.is_(None),
                    DigestRun.lease_expires_at.is_(None), DigestRun.lease_expires_at < now),
            )
            .values(lease_owner=owner, lease_expires_at=expires, status=RUNNING)
            .execution_options(synchronize_session=False)
        )
        if (taken.rowcount or 0) != 1:
            return None
    session.expire_all()
    return get_run(session, team_id=team_id, channel=channel, digest_date=digest_date)


def renew_lease(session: Session, *, run_id: int, owner: str, now: datetime, lease: timedelta) -> bool:
    """Extend our lease; False means another process took the run over and we must stop posting."""
    result = session.execute(
        update(DigestRun)
        .where(DigestRun.id == run_id, DigestRun.lease_owner == owner)
        .values(lease_expires_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1


def plan_items(session: Session, *, run_id: int, team_id: str, channel: str, arxiv_ids: Sequence[str],
               now: datetime | None = None) -> int:
    """Plan the run's papers in order; a paper already planned for this channel is left out.

    Returns how many were planned. Marks the run planned so a resumed run never re-selects.
    """
    planned = 0
    for arxiv_id in dict.fromkeys(arxiv_ids):
        # Positions without gaps: the digest's replies are cut from them (a reply's papers, a message's mark).
        inserted = session.execute(
            insert_for(session)(DigestItem)
            .values(run_id=run_id, team_id=team_id, channel=channel, arxiv_id=arxiv_id, position=planned)
            .on_conflict_do_nothing(index_elements=["team_id", "channel", "arxiv_id"])
            .returning(DigestItem.id)
        ).first()
        planned += inserted is not None
    session.execute(
        update(DigestRun).where(DigestRun.id == run_id)
        .values(paper_count=planned, planned_at=now or datetime.now(UTC))
        .execution_options(synchronize_session=False)
    )
    return planned


def unfinished_runs(session: Session, *, team_id: str, channel: str, before: date) -> list[RunRecord]:
    """The channel's runs of earlier dates that were planned, never finished, and still have papers to post."""
    unposted = exists().where(DigestItem.run_id == DigestRun.id, DigestItem.message_ts.is_(None),
                              DigestItem.error.is_(None))
    rows = session.scalars(
        select(DigestRun)
        .where(DigestRun.team_id == team_id, DigestRun.channel == channel, DigestRun.digest_date < before,
               DigestRun.status != DONE,
               DigestRun.planned_at.is_not(None), unposted)
        .order_by(DigestRun.digest_date)
    )
    return [_run(row) for row in rows]


def carry_items_over(session: Session, *, from_run_id: int, to_run_id: int) -> int:
    """Move a run's unposted papers to the end of another run of the same channel; returns how many moved.

    (team, channel, paper) stays unique, so a paper is still planned once: it just goes out with the later run."""
    last = session.scalar(select(func.max(DigestItem.position)).where(DigestItem.run_id == to_run_id))
    position = -1 if last is None else last
    moving = session.scalars(
        select(DigestItem.id).where(DigestItem.run_id == from_run_id, DigestItem.message_ts.is_(None),
                                    DigestItem.error.is_(None)).order_by(DigestItem.position)
    ).all()
    for item_id in moving:
        position += 1
        session.execute(update(DigestItem).where(DigestItem.id == item_id)
                        .values(run_id=to_run_id, position=position).execution_options(synchronize_session=False))
    session.execute(update(DigestRun).where(DigestRun.id == to_run_id)
                    .values(paper_count=DigestRun.paper_count + len(moving))
                    .execution_options(synchronize_session=False))
    return len(moving)


def run_items(session: Session, *, run_id: int) -> list[ItemRecord]:
    rows = session.scalars(select(DigestItem).where(DigestItem.run_id == run_id).order_by(DigestItem.position))
    return [
        ItemRecord(id=r.id, run_id=r.run_id, arxiv_id=r.arxiv_id, position=r.position, message_ts=r.message_ts,
                   error=r.error)
        for r in rows
    ]


def posted_ids(session: Session, *, team_id: str, channel: str, arxiv_ids: Sequence[str]) -> set[str]:
    """Which of these papers were already planned (and so posted or attempted) for the workspace's channel."""
    ids = list(dict.fromkeys(arxiv_ids))
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        found.update(session.scalars(
            select(DigestItem.arxiv_id).where(DigestItem.team_id == team_id, DigestItem.channel == channel,
                                              DigestItem.arxiv_id.in_(ids[start : start + 500]))
        ))
    return found


def set_parent_ts(session: Session, *, run_id: int, ts: str) -> None:
    session.execute(update(DigestRun).where(DigestRun.id == run_id).values(parent_ts=ts)
                    .execution_options(synchronize_session=False))


def mark_items_posted(session: Session, *, item_ids: Sequence[int], ts: str, now: datetime) -> None:
    session.execute(update(DigestItem).where(DigestItem.id.in_(list(item_ids)))
                    .values(message_ts=ts, posted_at=now, error=None)
                    .execution_options(synchronize_session=False))


def mark_items_failed(session: Session, *, item_ids: Sequence[int], error: str) -> None:
    session.execute(update(DigestItem).where(DigestItem.id.in_(list(item_ids))).values(error=error[:500])
                    .execution_options(synchronize_session=False))


def finish_run(session: Session, *, run_id: int, owner: str, status: str, now: datetime) -> None:
    """Close the run and release the lease (a failed run can then be retried at once)."""
    values = {"status": status, "finished_at": now, "lease_owner": None, "lease_expires_at": None}
    session.execute(update(DigestRun).where(DigestRun.id == run_id, DigestRun.lease_owner == owner)
                    .values(**values).execution_options(synchronize_session=False))


def mark_notice_posted(session: Session, *, run_id: int, now: datetime) -> None:
    session.execute(update(DigestRun).where(DigestRun.id == run_id, DigestRun.notice_posted_at.is_(None))
                    .values(notice_posted_at=now).execution_options(synchronize_session=False))


def release_lease(session: Session, *, run_id: int, owner: str) -> None:
    """Give the run back without finishing it, so the next run (any process) can take it at once."""
    session.execute(update(DigestRun).where(DigestRun.id == run_id, DigestRun.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None).execution_options(synchronize_session=False))


def unplan_run(session: Session, *, run_id: int, owner: str) -> int:
    """Forget a run's plan when none of it reached Slack, so its papers are free for the next digest.

    Only the lease owner may, and only items never posted; returns how many were given back.
    """
    owned = session.scalar(select(DigestRun.id).where(DigestRun.id == run_id, DigestRun.lease_owner == owner,
                                                      DigestRun.parent_ts.is_(None)))
    if owned is None:
        return 0
    removed = session.execute(
        delete(DigestItem).where(DigestItem.run_id == run_id, DigestItem.message_ts.is_(None))
        .execution_options(synchronize_session=False)
    )
    session.execute(update(DigestRun).where(DigestRun.id == run_id).values(paper_count=0, planned_at=None)
                    .execution_options(synchronize_session=False))
    return removed.rowcount or 0
