"""Button clicks: Abstract, Mark read, Mark unread, the PDF link button, and History's More.

Every listener acks at once and does its work in a lazy listener (Slack wants the ack within 3 s).
The clicker's confirmation is ephemeral, so the shared digest message never changes for others;
clicks in the App Home re-publish the home view instead, and a click on a search result (an ephemeral list of the
clicker's own) redraws that page in place, with ✓ on the paper.

Each click's work is a module-level function `(services, click, client, respond)`; `on_click` runs it and
turns a failure into a note for the clicker, and `register` only binds them to their action ids.
"""

from __future__ import annotations

import logging
from functools import partial

from bot import channel_topics, reading, search
from bot.render_blocks import digest as digest_views
from bot.render_blocks import reading as views
from bot.render_blocks import search as search_views
from bot.render_blocks.common import HISTORY_MORE, MARK_READ, MARK_UNREAD, OPEN_PDF, SHOW_ABSTRACT, problem_message
from handlers.commands import search_reply
from handlers.common import Click, ack_now, failure_reply, who
from handlers.events import publish_home

log = logging.getLogger(__name__)


def _tell_clicker(click: Click, client, respond, reply: dict) -> None:
    """An ephemeral note to the clicker only; replace_original=False leaves the clicked message alone."""
    if click.has_response_url:
        respond(**{**reply, "response_type": "ephemeral", "replace_original": False})
    elif click.channel_id:
        extra = {"thread_ts": click.thread_ts} if click.thread_ts else {}
        client.chat_postEphemeral(channel=click.channel_id, user=click.user_id, text=reply.get("text", ""),
                                  blocks=reply.get("blocks"), **extra)
    else:
        log.warning("no way to confirm a click to %s", click.user_id)


def on_click(work, services, body: dict, client, respond) -> None:
    """Do the click's work; turn failures into a quiet note (or, in the Home tab, a log line)."""
    click = Click.from_body(body)
    try:
        work(services, click, client, respond)
        return
    except Exception as err:  # noqa: BLE001 - becomes a note to the clicker; unexpected ones are logged
        reply = failure_reply(err, doing="click handling")
    if click.in_home:
        log.warning("App Home click by %s failed: %s", click.user_id, reply["text"])
    else:
        _tell_clicker(click, client, respond, reply)


def _record_read(services, click: Click, client, respond, *, source_outside_home: str, confirm_repeat: bool) -> None:
    source = "home" if click.in_home else source_outside_home
    outcome = reading.mark_read(services.store.session_factory, **who(click), arxiv_id=click.value, source=source)
    if click.in_home:
        publish_home(services, client, **who(click))
    elif _redraw_search_page(services, click, respond):
        return
    elif outcome.newly_read or confirm_repeat:
        _tell_clicker(click, client, respond, views.read_confirmation(outcome))


def _redraw_search_page(services, click: Click, respond) -> bool:
    """A click in the clicker's own search results: redraw that page (✓ on the paper) instead of adding a note."""
    page = search_views.parse_search_block_id(click.block_id)
    if page is None or not click.has_response_url:
        return False
    query, offset = page
    respond(**{**search_reply(services, query=query, offset=offset, reader=who(click)), "replace_original": True})
    return True


def read_clicked(services, click: Click, client, respond) -> None:
    _record_read(services, click, client, respond, source_outside_home="button", confirm_repeat=True)


def pdf_opened(services, click: Click, client, respond) -> None:
    # The browser opens the PDF itself; a repeat open needs no note.
    _record_read(services, click, client, respond, source_outside_home="opened", confirm_repeat=False)


def unread_clicked(services, click: Click, client, respond) -> None:
    outcome = reading.mark_unread(services.store.session_factory, **who(click), arxiv_id=click.value)
    page_at = views.parse_history_block_id(click.block_id)
    if click.in_home:
        publish_home(services, client, **who(click))
    elif _redraw_search_page(services, click, respond):
        return
    elif page_at and click.has_response_url:
        # An Unread in the user's own (ephemeral) history: redraw that page without the paper.
        _show_history(services, click, respond, offset=page_at[0], limit=page_at[1])
    else:
        _tell_clicker(click, client, respond, views.unread_confirmation(outcome))


def abstract_clicked(services, click: Click, client, respond) -> None:
    """The whole abstract, to the clicker only: the shared digest message stays as it is."""
    factory = services.store.session_factory
    paper = search.find_paper(factory, arxiv_id=click.value[:64]) if click.value else None
    if paper is None:
        _tell_clicker(click, client, respond, problem_message("That paper is no longer in the store."))
        return
    topic, _ = channel_topics.channel_topic(factory, services.settings, click.channel_id, team_id=click.team_id)
    _tell_clicker(click, client, respond, digest_views.abstract_message(paper, topic.keywords))


def history_more_clicked(services, click: Click, client, respond) -> None:
    offset, limit = views.parse_history_more_value(click.value) or (0, reading.DEFAULT_HISTORY)
    _show_history(services, click, respond, offset=offset, limit=limit)


def _show_history(services, click: Click, respond, *, offset: int, limit: int) -> None:
    factory = services.store.session_factory
    page = reading.history(factory, **who(click), limit=limit, offset=offset)
    if not page.reads and page.offset > 0:  # the last one on a later page went: show the page before
        page = reading.history(factory, **who(click), limit=limit, offset=max(0, offset - limit))
    respond(**{**views.history_message(page), "replace_original": True})


def register(app, services) -> None:
    app.action(MARK_READ)(ack=ack_now, lazy=[partial(on_click, read_clicked, services)])
    app.action(MARK_UNREAD)(ack=ack_now, lazy=[partial(on_click, unread_clicked, services)])
    app.action(OPEN_PDF)(ack=ack_now, lazy=[partial(on_click, pdf_opened, services)])
    app.action(HISTORY_MORE)(ack=ack_now, lazy=[partial(on_click, history_more_clicked, services)])
    app.action(SHOW_ABSTRACT)(ack=ack_now, lazy=[partial(on_click, abstract_clicked, services)])
