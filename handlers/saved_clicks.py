"""The Save and Remove buttons (saved for later) and the BibTeX button, on any paper: digest, search, unfurl,
DM alert, App Home.

Clicks go through handlers.actions.on_click (a failure becomes a note to the clicker); a click in the App Home
re-publishes it, a click in the user's own `/papers saved` list redraws that list, anything else gets an
ephemeral confirmation.
"""

from __future__ import annotations

from functools import partial

from bot import saved
from bot.render_blocks import saved as views
from bot.render_blocks.common import REMOVE_SAVED, SAVE_PAPER, SHOW_BIBTEX
from handlers.actions import _tell_clicker, on_click
from handlers.bibtex import bib_reply
from handlers.common import Click, ack_now, who
from handlers.events import publish_home


def _after_click(services, click: Click, client, respond, reply: dict) -> None:
    if click.in_home:
        publish_home(services, client, **who(click))
    elif views.is_saved_list_block(click.block_id) and click.has_response_url:
        page = saved.saved_list(services.store.session_factory, **who(click))
        respond(**{**views.saved_message(page), "replace_original": True})
    else:
        _tell_clicker(click, client, respond, reply)


def save_clicked(services, click: Click, client, respond) -> None:
    outcome = saved.save_paper(services.store.session_factory, **who(click), arxiv_id=click.value)
    _after_click(services, click, client, respond, views.save_confirmation(outcome))


def remove_clicked(services, click: Click, client, respond) -> None:
    outcome = saved.remove_paper(services.store.session_factory, **who(click), arxiv_id=click.value)
    _after_click(services, click, client, respond, views.remove_confirmation(outcome))



def bibtex_clicked(services, click: Click, client, respond) -> None:
    _tell_clicker(click, client, respond, bib_reply(services, client, args=click.value, **who(click)))


def register(app, services) -> None:
    app.action(SAVE_PAPER)(ack=ack_now, lazy=[partial(on_click, save_clicked, services)])
    app.action(REMOVE_SAVED)(ack=ack_now, lazy=[partial(on_click, remove_clicked, services)])
    app.action(SHOW_BIBTEX)(ack=ack_now, lazy=[partial(on_click, bibtex_clicked, services)])
