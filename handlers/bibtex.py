"""`/papers bib …` and the BibTeX button: short answers as an ephemeral code block, long ones as a .bib file in the
user's DM (`files_upload_v2`). The button's listener is in handlers/saved_clicks.py (handlers.actions imports
the router, which imports this module)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot import bibtex
from bot.render_blocks import bibtex as views
from bot.render_blocks.common import problem_message
from handlers.common import user_text_on_failure, who
from handlers.web_client import build_web_client

log = logging.getLogger(__name__)


def bib_reply(services, client, *, args: str, team_id: str, user_id: str) -> dict:
    papers = bibtex.papers_for_bib(services.store.session_factory, args, team_id=team_id, user_id=user_id,
                                   arxiv=services.arxiv)
    if not papers:
        return problem_message("There are no papers there to cite yet.")
    bib = bibtex.bibliography(papers)
    if views.fits_inline(bib):
        return views.bib_message(bib)
    try:
        channel = client.conversations_open(users=user_id)["channel"]["id"]
        client.files_upload_v2(channel=channel, content=bib, filename="papers.bib", title="papers.bib")
    except SlackApiError as err:
        log.warning("BibTeX file to %s not sent: %s", user_id,
                    err.response.get("error") if err.response is not None else "no answer")
        return problem_message("Slack didn't take the .bib file; try fewer papers, or again in a moment.")
    return views.bib_sent_message(len(papers))


@user_text_on_failure
def bib_command(services, command: dict, args: str, client=None) -> dict:
    """`/papers bib`; `client` is the request's (its workspace's token), else one built on SLACK_BOT_TOKEN."""
    return bib_reply(services, client or build_web_client(services.settings), args=args, **who(command))
