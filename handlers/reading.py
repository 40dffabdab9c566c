"""`/papers read|unread|history`: one domain call each, rendered into the reply dict for Bolt's `respond(**reply)`.

The /papers router (handlers/commands.py) acks, then calls these and responds; they never raise.
"""

from __future__ import annotations

from bot import reading
from bot.render_blocks import reading as views
from handlers.common import user_text_on_failure, who


@user_text_on_failure
def read_command(services, command: dict, args: str) -> dict:
    outcome = reading.mark_read(
        services.store.session_factory, **who(command), arxiv_id=args, source="command",
        arxiv=services.arxiv,  # the process's one client, shared with the digest job
    )
    return views.read_confirmation(outcome)


@user_text_on_failure
def unread_command(services, command: dict, args: str) -> dict:
    outcome = reading.mark_unread(services.store.session_factory, **who(command), arxiv_id=args)
    return views.unread_confirmation(outcome)


@user_text_on_failure
def history_command(services, command: dict, args: str) -> dict:
    page = reading.history(services.store.session_factory, **who(command), limit=reading.parse_history_count(args))
    return views.history_message(page)
