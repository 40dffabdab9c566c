"""The workspaces the app serves: which ones the daily jobs run for, and what happens to a workspace's data.

- **The jobs' workspaces.** `workspace_clients(factory, settings, installations)` lists (team_id, client) for every
  workspace the digest and DM jobs run for, and `run_for_each_workspace(...)` runs a job once per workspace, one
  workspace's crash never stopping the others. `installations` is the seam: a callable yielding
  (team_id, Web client) pairs. In single-token mode (SLACK_BOT_TOKEN) it is the token's one workspace
  (handlers.workspace_clients.single_token_installations: SLACK_TEAM_ID, else `auth.test`, cached); with OAuth it
  is every installation in the installation store, each with its own token. Clients are built at the edge
  (handlers/); this module never talks to Slack. A workspace marked uninstalled is left out at once, whatever
  the installations still say.
- **Uninstalls and retention.** `mark_uninstalled(factory, team_id, at)` stops the workspace's digests and DMs from
  that moment (the jobs check before each workspace, and a digest retry checks again before it posts);
  its data is kept RETENTION_AFTER_UNINSTALL_DAYS, then `purge_expired` (a daily job of bot.scheduler) deletes it.
  `purge_workspace` deletes one workspace's data at once (`papers-bot workspace purge T…`).
- **Rows from before workspaces** (team_id '', migration 0011) go to the install's one workspace the first time a
  process knows it (`adopt_unassigned_rows`).

DIGEST_CHANNEL belongs to one workspace: SLACK_TEAM_ID's when that is set, else the single token's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from db import topics as topic_store
from db import workspaces as workspace_store
from db.topics import ChannelTopicRecord
from db.workspaces import UNASSIGNED, WorkspaceCounts, WorkspaceRecord

log = logging.getLogger(__name__)

T = TypeVar("T")

# The seam the installation store plugs into: every installed workspace as (team_id, its Web client).
Installations = Callable[[], Iterable[tuple[str, object]]]


@dataclass(frozen=True)
class ServedWorkspace:
    """A workspace a job runs for, with the Web client that acts in it (its own token)."""

    team_id: str
    client: object
    owns_digest_channel: bool = False  # DIGEST_CHANNEL is this workspace's channel


def owns_digest_channel(settings: Settings, team_id: str) -> bool:
    """DIGEST_CHANNEL is SLACK_TEAM_ID's channel when that is set, else the single token's workspace's."""
    if settings.slack_team_id:
        return team_id == settings.slack_team_id
    return bool(settings.slack_bot_token)


def workspace_clients(factory: sessionmaker[Session], settings: Settings, installations: Installations, *,
                      now: datetime | None = None) -> list[ServedWorkspace]:
    """Every workspace the daily jobs run for: each installation not marked uninstalled, in team order. Each is
    recorded in `workspaces` the first time it is seen."""
    now = now or datetime.now(UTC)
    served: dict[str, ServedWorkspace] = {}
    for team_id, client in installations():
        if not team_id or team_id in served:
            continue
        with factory.begin() as session:
            workspace_store.record_seen(session, team_id=team_id, now=now)
            record = workspace_store.get_workspace(session, team_id)
        if record is not None and not record.active:
            continue
        served[team_id] = ServedWorkspace(team_id, client, owns_digest_channel(settings, team_id))
    return [served[team] for team in sorted(served)]


def run_for_each_workspace(factory: sessionmaker[Session], settings: Settings, installations: Installations,
                           job: Callable[[ServedWorkspace], T]) -> dict[str, T]:
    """Run `job` once for every workspace of `workspace_clients`; returns team_id -> its result. A workspace whose
    job crashes is logged and left out of the result, and the others still run."""
    results: dict[str, T] = {}
    for workspace in workspace_clients(factory, settings, installations):
        try:
            results[workspace.team_id] = job(workspace)
        except Exception:  # noqa: BLE001 - one workspace's failure must not starve the others
            log.exception("workspace %s: its daily job failed; the other workspaces went on", workspace.team_id)
    return results


def is_served(factory: sessionmaker[Session], team_id: str) -> bool:
    """False once the workspace is marked uninstalled (its digests and DMs stop)."""
    with factory.begin() as session:
        record = workspace_store.get_workspace(session, team_id)
    return record is None or record.active


def mark_installed(factory: sessionmaker[Session], team_id: str, at: datetime, name: str | None = None) -> None:
    """A workspace installed the app (again): it is served from now on."""
    with factory.begin() as session:
        workspace_store.record_installed(session, team_id=team_id, now=at, name=name)


def token_accepted(factory: sessionmaker[Session], team_id: str, at: datetime) -> None:
    """Slack accepted the workspace's bot token at `at` (auth.test): the app is installed there. A workspace marked
    uninstalled before then was installed again (single-token mode has no install event), so it is served again."""
    with factory.begin() as session:
        record = workspace_store.get_workspace(session, team_id)
        if record is not None and record.uninstalled_at is not None and record.uninstalled_at < at:
            workspace_store.record_installed(session, team_id=team_id, now=at)
            log.info("workspace %s: Slack accepts its token again; its digests and DMs start again", team_id)


def mark_uninstalled(factory: sessionmaker[Session], team_id: str, at: datetime) -> None:
    """The workspace removed the app (app_uninstalled, tokens_revoked): no digest or DM goes to it from now on;
    its data is purged RETENTION_AFTER_UNINSTALL_DAYS after `at`."""
    with factory.begin() as session:
        workspace_store.record_uninstalled(session, team_id=team_id, at=at)
    log.info("workspace %s uninstalled: its digests and DMs stop now", team_id)


def adopt_unassigned_rows(factory: sessionmaker[Session], team_id: str) -> dict[str, int]:
    """Hand the rows from before workspaces (team_id '') to the install's one workspace; table -> rows."""
    if not team_id:
        return {}
    with factory.begin() as session:
        assigned = workspace_store.assign_unassigned(session, team_id)
        if assigned:
            workspace_store.record_seen(session, team_id=team_id, now=datetime.now(UTC))
    if assigned:
        log.info("rows from before workspaces now belong to workspace %s: %s", team_id,
                 ", ".join(f"{table} {count}" for table, count in assigned.items()))
    return assigned


@dataclass(frozen=True)
class PurgeReport:
    team_id: str
    deleted: dict[str, int] = field(default_factory=dict)  # table -> rows

    def summary(self) -> str:
        rows = ", ".join(f"{count} {table}" for table, count in self.deleted.items() if table != "workspaces")
        if "workspaces" in self.deleted:
            rows = f"{rows} and its record" if rows else "its record (it had no other rows)"
        return f"workspace {self.team_id or '(unassigned)'}: deleted {rows or 'no rows'}"


def known_team(factory: sessionmaker[Session], team_id: str) -> bool:
    """Whether the workspace has a `workspaces` row or any rows of its own."""
    with factory.begin() as session:
        return (workspace_store.get_workspace(session, team_id) is not None
                or team_id in workspace_store.teams_with_rows(session))


def purge_workspace(factory: sessionmaker[Session], team_id: str) -> PurgeReport:
    """Delete every row of the workspace (topics, digest ledger, reads, saved, follows, DMs) and its record."""
    with factory.begin() as session:
        deleted = workspace_store.delete_workspace_rows(session, team_id)
    log.info("workspace %s purged: %s", team_id, deleted)
    return PurgeReport(team_id, deleted)


def purge_expired(factory: sessionmaker[Session], *, retention_days: int,
                  now: datetime | None = None) -> list[PurgeReport]:
    """The daily retention job: purge every workspace uninstalled more than `retention_days` ago."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    with factory.begin() as session:
        expired = workspace_store.uninstalled_before(session, cutoff)
    return [purge_workspace(factory, team_id) for team_id in expired]


@dataclass(frozen=True)
class WorkspaceOverview:
    """One workspace as `papers-bot workspace list` shows it."""

    team_id: str
    record: WorkspaceRecord | None  # None: rows only (e.g. the unassigned '' rows)
    topics: list[ChannelTopicRecord]
    counts: WorkspaceCounts

    @property
    def label(self) -> str:
        if self.team_id == UNASSIGNED:
            return "(unassigned: rows from before workspaces; set SLACK_TEAM_ID or SLACK_BOT_TOKEN and start once)"
        name = f" {self.record.name}" if self.record and self.record.name else ""
        if self.record is None:
            return f"{self.team_id}{name} (no install recorded)"
        state = (f"uninstalled {self.record.uninstalled_at:%Y-%m-%d}" if self.record.uninstalled_at
                 else f"installed {self.record.installed_at:%Y-%m-%d}")
        return f"{self.team_id}{name} ({state})"


def workspace_overview(factory: sessionmaker[Session]) -> list[WorkspaceOverview]:
    """Every workspace with a record or rows: its channels with topics and its counts, in team order."""
    with factory.begin() as session:
        records = {r.team_id: r for r in workspace_store.list_workspaces(session)}
        teams = sorted(set(records) | set(workspace_store.teams_with_rows(session)))
        return [WorkspaceOverview(team, records.get(team), topic_store.all_channel_topics(session, team_id=team),
                                  workspace_store.count_rows(session, team)) for team in teams]
