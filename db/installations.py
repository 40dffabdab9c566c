"""Which workspaces have the app installed: read from slack_sdk's `slack_bots` table (written only by its
installation store, handlers/oauth.py; the table is migration 0012's). And the install links' states that
expired unused (slack_sdk's state store deletes a state only when it is used)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from db.models import slack_bots, slack_oauth_states


def installed_team_ids(session: Session, *, client_id: str) -> list[str]:
    """Every workspace with a bot installed by this app (SLACK_CLIENT_ID), in team id order. Org-wide
    (Enterprise Grid) installs, which have no team, are not listed."""
    rows = session.execute(
        select(slack_bots.c.team_id)
        .where(slack_bots.c.client_id == client_id, slack_bots.c.team_id.is_not(None),
               slack_bots.c.bot_token.is_not(None))
        .distinct()
        .order_by(slack_bots.c.team_id)
    )
    return list(rows.scalars())


def delete_expired_states(session: Session, *, now: datetime) -> int:
    """Forget the install links' states that expired by `now`; returns how many."""
    stored_as = now.astimezone(UTC).replace(tzinfo=None)  # slack_sdk stores naive UTC times
    result = session.execute(delete(slack_oauth_states).where(slack_oauth_states.c.expire_at <= stored_as))
    return result.rowcount or 0
