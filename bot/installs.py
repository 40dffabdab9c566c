"""What the rest of the app hears when a workspace installs the app through OAuth, or leaves it (an
`app_uninstalled` or `tokens_revoked` event).

The installation itself is stored or already deleted by then (handlers/oauth.py, through Bolt's installation
store); bot.workspaces records the workspace as served, or stops its digests and DMs. And the install links
(the states of /slack/install) that expired unused, which slack_sdk's state store never deletes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot import workspaces
from db.installations import delete_expired_states

log = logging.getLogger(__name__)


def on_workspace_uninstalled(services, team_id: str, at: datetime) -> None:
    """The workspace `team_id` uninstalled the app at `at`: its digests and DMs stop, and its data is kept
    for RETENTION_AFTER_UNINSTALL_DAYS (the workspaces module marks it; its installation is gone already)."""
    workspaces.mark_uninstalled(services.store.session_factory, team_id, at)
    log.info("workspace %s left at %s: no more requests, digests or DMs run for it", team_id, at.isoformat())


def on_workspace_installed(services, team_id: str, at: datetime, name: str | None = None) -> None:
    """The workspace `team_id` installed the app (again) at `at`: served from now on, even if it left before."""
    workspaces.mark_installed(services.store.session_factory, team_id, at, name=name)


def forget_expired_install_links(engine: Engine, now: datetime) -> int:
    """Delete the install links' states expired by `now` (each page load of /slack/install stores one, and one
    left unused would stay for ever); returns how many."""
    with Session(engine) as session, session.begin():
        return delete_expired_states(session, now=now)
