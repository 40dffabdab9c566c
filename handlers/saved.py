"""Saved for later at the edge: `/papers saved` and the message shortcut **Save paper** (the buttons are in
handlers/saved_clicks.py, apart because handlers.actions imports this module's router)."""

from __future__ import annotations

import logging
from functools import partial

from bot import saved
from bot.render_blocks import saved as views
from bot.unfurls import arxiv_ids_in_text
from handlers.arxiv_lookups import ArxivLookups
from handlers.common import ack_now, failure_reply, user_text_on_failure, who

log = logging.getLogger(__name__)

SAVE_SHORTCUT = "save_paper"  # the message shortcut's callback_id (manifest.yml)


@user_text_on_failure
def saved_command(services, command: dict, args: str) -> dict:
    return views.saved_message(saved.saved_list(services.store.session_factory, **who(command)))


def save_from_message(services, body: dict, client) -> None:
    """The message shortcut: save every arXiv paper linked in the message for the person who used it.
    Papers not stored yet are fetched from arXiv (this runs on the arXiv lookup pool)."""
    user = (body.get("user") or {}).get("id", "")
    team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id", "")
    channel = (body.get("channel") or {}).get("id", "")
    message = body.get("message") or {}
    ids = arxiv_ids_in_text(_message_text(message))
    try:
        if not ids:
            reply = views.no_links_to_save()
        else:
            outcomes = saved.save_papers(services.store.session_factory, team_id=team, user_id=user,
                                         arxiv_ids=ids, arxiv=services.arxiv)
            reply = views.saves_confirmation(outcomes)
    except Exception as err:  # noqa: BLE001 - becomes a note to the user; unexpected ones are logged
        reply = failure_reply(err, doing="the Save paper shortcut")
    extra = {"thread_ts": message["thread_ts"]} if message.get("thread_ts") else {}
    client.chat_postEphemeral(channel=channel, user=user, text=reply["text"], blocks=reply.get("blocks"), **extra)


def _message_text(message: dict) -> str:
    """The message's text plus every link in its blocks and attachments (unfurled links keep their URL there)."""
    parts = [message.get("text") or ""]
    for attachment in message.get("attachments") or []:
        parts.extend(str(attachment.get(key) or "") for key in ("original_url", "from_url", "title_link"))
    return "\n".join(parts)


def register(app, services, lookups: ArxivLookups) -> None:
    app.shortcut(SAVE_SHORTCUT)(ack=ack_now, lazy=[partial(_on_lookup_pool, lookups, services)])


def _on_lookup_pool(lookups: ArxivLookups, services, body: dict, client) -> None:
    # Fetching unknown papers waits on arXiv's pacing: off the pool that answers clicks and searches.
    if not lookups.submit(partial(save_from_message, services, body, client)):
        log.warning("Save paper shortcut by %s dropped: the arXiv lookup pool is full",
                    (body.get("user") or {}).get("id"))
