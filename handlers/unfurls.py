"""arXiv link unfurls: `link_shared` for arxiv.org answered with one `chat.unfurl` for all the message's links.

The event is acked at once; the work runs on the arXiv lookup pool (handlers/arxiv_lookups.py), because a paper
not stored is fetched from arXiv, and that waits on arXiv's pacing: searches and clicks never wait behind it.
arXiv unreachable, or Slack refusing the unfurl: a log line, nothing in the channel.
"""

from __future__ import annotations

import logging
from functools import partial

from slack_sdk.errors import SlackApiError

from bot.reading import ReadingError
from bot.render_blocks.unfurls import unfurls
from bot.unfurls import papers_for_links
from handlers.arxiv_lookups import ArxivLookups
from handlers.common import ack_now

log = logging.getLogger(__name__)

ARXIV_DOMAINS = ("arxiv.org", "www.arxiv.org", "export.arxiv.org")


def unfurl_links(services, event: dict, client) -> None:
    urls = [link.get("url", "") for link in event.get("links") or []
            if (link.get("domain") or "").lower() in ARXIV_DOMAINS]
    try:
        linked = papers_for_links(services.store.session_factory, urls, arxiv=services.arxiv)
    except ReadingError as err:  # the database: logged where it happened
        log.warning("no unfurl in %s: %s", event.get("channel"), err)
        return
    if not linked:
        return
    # Composer previews carry unfurl_id + source; a posted message carries channel + ts.
    where = ({"unfurl_id": event["unfurl_id"], "source": event["source"]}
             if event.get("unfurl_id") and event.get("source") else
             {"channel": event.get("channel", ""), "ts": event.get("message_ts", "")})
    try:
        client.chat_unfurl(**where, unfurls=unfurls(linked))
    except SlackApiError as err:
        log.warning("chat.unfurl in %s refused: %s", event.get("channel"),
                    err.response.get("error") if err.response is not None else "no answer")


def link_shared(services, lookups: ArxivLookups, event: dict, client) -> None:
    if not lookups.submit(partial(unfurl_links, services, event, client)):
        log.warning("no unfurl in %s: the arXiv lookup pool is full", event.get("channel"))


def register(app, services, lookups: ArxivLookups) -> None:
    app.event("link_shared")(ack=ack_now, lazy=[partial(link_shared, services, lookups)])
