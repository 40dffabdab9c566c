"""The Slack edge: listeners registered per kind (commands, actions, events), the middleware every request
passes, and the Bolt app, Web client, HTTP server and Socket Mode runner they are served by.

Each listener acks first, makes one domain call, renders, responds.
"""

from __future__ import annotations

from slack_bolt import BoltResponse

from handlers import actions, arxiv_search, commands, events, follows, saved, saved_clicks, unfurls
from handlers.arxiv_lookups import ArxivLookups
from handlers.observe import SKIPPED
from handlers.replays import SkipReplays


def register(app, services, lookups: ArxivLookups) -> None:
    app.middleware(skip_slack_retries)
    app.middleware(SkipReplays())
    commands.register(app, services, lookups)
    arxiv_search.register(app, services, lookups)
    actions.register(app, services)
    events.register(app, services)
    saved.register(app, services, lookups)
    saved_clicks.register(app, services)
    unfurls.register(app, services, lookups)
    follows.register(app, services)


def skip_slack_retries(req, resp, next):  # noqa: A002 - Bolt passes `next` by name
    """Slack re-sends an event it thinks timed out (X-Slack-Retry-Num 1, 2, 3); the first delivery already ran.

    In Socket Mode slack_bolt copies each envelope's `retry_attempt` into that header, and a first delivery
    carries `retry_attempt: 0`: 0 (or no header) runs. Bolt's signature check runs before this middleware,
    so a forged retry is still refused.
    """
    retry = (req.headers.get("x-slack-retry-num") or ["0"])[0].strip()
    if retry not in ("", "0"):
        req.context[SKIPPED] = "retry"
        return BoltResponse(status=200, body="")
    return next()
