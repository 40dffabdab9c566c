"""SQL for `workspaces` and for a workspace's rows across every workspace-owned table: recording installs and
uninstalls, counting and deleting one workspace's data, and handing the rows from before workspaces (team_id '',
migration 0011) to the install's one workspace.

Papers, their vectors, the arXiv pacing row and the search tables are shared by every workspace (they are
arXiv's) and are never touched here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from db.dialect import insert_for
from db.models import (
    ChannelTopic,
    DigestItem,
    DigestRun,
    Follow,
    FollowAlert,
    ForYouDm,
    ForYouDmSent,
    Read,
    SavedPaper,
    Workspace,
)

# The team of a row from before workspaces: assigned by the first start that knows the install's workspace.
UNASSIGNED = ""

# Every workspace-owned table and the columns that, with team_id, make a row unique. Children before parents, so
# deleting in this order never leans on ON DELETE CASCADE (off on SQLite connections without the pragma).
TEAM_TABLES = (
    (DigestItem, ("channel", "arxiv_id")),
    (DigestRun, ("channel", "digest_date")),
    (ChannelTopic, ("channel",)),
    (FollowAlert, ("user_id", "arxiv_id")),
    (Follow, ("user_id", "query")),
    (SavedPaper, ("user_id", "arxiv_id")),
    (Read, ("user_id", "arxiv_id")),
    (ForYouDmSent, ("user_id", "arxiv_id")),
    (ForYouDm, ("user_id",)),
)


@dataclass(frozen=True)
class WorkspaceRecord:
    team_id: str
    name: str | None
    installed_at: datetime
    uninstalled_at: datetime | None

    @property
    def active(self) -> bool:
        return self.uninstalled_at is None


@dataclass(frozen=True)
class WorkspaceCounts:
    """How much of one workspace's data is stored (what `papers-bot workspace list` shows)."""

    reads: int = 0
    saved: int = 0
    follows: int = 0
    digests: int = 0  # digest runs (one per channel and date)
    dm_subscribers: int = 0


def _record(row: Workspace) -> WorkspaceRecord:
    return WorkspaceRecord(team_id=row.team_id, name=row.name, installed_at=row.installed_at,
                           uninstalled_at=row.uninstalled_at)


def get_workspace(session: Session, team_id: str) -> WorkspaceRecord | None:
    row = session.get(Workspace, team_id)
    return _record(row) if row else None


def list_workspaces(session: Session) -> list[WorkspaceRecord]:
    return [_record(row) for row in session.scalars(select(Workspace).order_by(Workspace.team_id))]


def record_seen(session: Session, *, team_id: str, now: datetime, name: str | None = None) -> None:
    """Note a workspace the app serves (a no-op when it is known; an uninstalled one stays uninstalled)."""
    session.execute(insert_for(session)(Workspace).values(team_id=team_id, name=name, installed_at=now)
                    .on_conflict_do_nothing(index_elements=["team_id"]))
    if name:
        session.execute(update(Workspace).where(Workspace.team_id == team_id, Workspace.name.is_(None))
                        .values(name=name))


def record_installed(session: Session, *, team_id: str, now: datetime, name: str | None = None) -> None:
    """A workspace installed (again): it is served from now on, its install time is now."""
    record_seen(session, team_id=team_id, now=now, name=name)
    values: dict = {"installed_at": now, "uninstalled_at": None}
    if name:
        values["name"] = name
    session.execute(update(Workspace).where(Workspace.team_id == team_id).values(**values))


def record_uninstalled(session: Session, *, team_id: str, at: datetime) -> None:
    """The workspace removed the app: kept (its first uninstall time kept) until its retention ends."""
    record_seen(session, team_id=team_id, now=at)
    session.execute(update(Workspace).where(Workspace.team_id == team_id, Workspace.uninstalled_at.is_(None))
                    .values(uninstalled_at=at))


def uninstalled_before(session: Session, cutoff: datetime) -> list[str]:
    """Workspaces uninstalled before `cutoff`: their retention is over."""
    return list(session.scalars(select(Workspace.team_id).where(Workspace.uninstalled_at < cutoff)
                                .order_by(Workspace.team_id)))


def teams_with_rows(session: Session) -> list[str]:
    """Every team_id some workspace-owned row carries ('' included when rows are unassigned)."""
    teams: set[str] = set()
    for model, _ in TEAM_TABLES:
        teams.update(session.scalars(select(model.team_id).distinct()))
    return sorted(teams)


def count_rows(session: Session, team_id: str) -> WorkspaceCounts:
    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model).where(model.team_id == team_id)) or 0

    return WorkspaceCounts(reads=count(Read), saved=count(SavedPaper), follows=count(Follow),
                           digests=count(DigestRun), dm_subscribers=count(ForYouDm))


def delete_workspace_rows(session: Session, team_id: str) -> dict[str, int]:
    """Delete every row of the workspace, and its `workspaces` row; returns table -> rows deleted (non-zero),
    `workspaces` included when it had a record."""
    deleted: dict[str, int] = {}
    for model, _ in TEAM_TABLES:
        count = session.execute(delete(model).where(model.team_id == team_id)
                                .execution_options(synchronize_session=False)).rowcount or 0
        if count:
            deleted[model.__tablename__] = count
    if session.execute(delete(Workspace).where(Workspace.team_id == team_id)).rowcount:
        deleted[Workspace.__tablename__] = 1
    return deleted


def assign_unassigned(session: Session, team_id: str) -> dict[str, int]:
    """Hand every row marked '' (from before workspaces, or an older request without a team) to `team_id`;
    returns table -> rows assigned (non-zero). Where the team already has the same row (the same user read the
    same paper both ways), the team's row is kept and the unassigned copy dropped."""
    assigned: dict[str, int] = {}
    for model, key in TEAM_TABLES:
        team_row = aliased(model)
        duplicate = exists().where(team_row.team_id == team_id,
                                   and_(*(getattr(team_row, c) == getattr(model, c) for c in key)))
        if model is DigestRun:  # a duplicate run's items go with it (no cascade to lean on)
            doomed = select(DigestRun.id).where(DigestRun.team_id == UNASSIGNED, duplicate)
            session.execute(delete(DigestItem).where(DigestItem.run_id.in_(doomed))
                            .execution_options(synchronize_session=False))
        session.execute(delete(model).where(model.team_id == UNASSIGNED, duplicate)
                        .execution_options(synchronize_session=False))
        count = session.execute(update(model).where(model.team_id == UNASSIGNED).values(team_id=team_id)
                                .execution_options(synchronize_session=False)).rowcount or 0
        if count:
            assigned[model.__tablename__] = count
    return assigned
