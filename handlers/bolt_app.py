"""The Bolt app: signature verification, ack-then-work, auth.test at start-up, every listener registered, every
request observed (handlers.observe)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

import handlers
from bot import search_index
from handlers import observe
from handlers.arxiv_lookups import ArxivLookups
from handlers.web_client import build_web_client

# Lazy listeners (every search, click and App Home after its ack) run on this many threads; Bolt's
# default is 5. README "Load": ~75 requests/s at concurrency 20 with replies of ~250-450 ms means about
# 20-30 in flight at the peak; 16 keeps all but the burst's tail from queueing, while the searches,
# CPU-bound on 2 cores, would gain nothing from more. Work that waits on arXiv has its own pool
# (handlers.arxiv_lookups), so a stall there never takes these threads.
LISTENER_THREADS = 16


class SlackUnavailable(Exception):
    """Slack's Web API refused the token or could not be reached when the app started."""


def build_bolt_app(services) -> App:
    """The real Bolt app with signature verification and every listener registered."""
    settings = services.settings
    settings.require("SLACK_BOT_TOKEN")
    if not settings.slack_app_token:
        settings.require("SLACK_SIGNING_SECRET")
    try:
        app = App(
            client=build_web_client(settings),
            signing_secret=settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
            # Ack-then-work: listeners ack within Slack's 3 s, lazy functions do the rest in a thread.
            process_before_response=True,
            # auth.test once, here at start-up: left to the first request, it (and its retries) would eat
            # that request's 3 s, and a bad token would only show when a user types /papers.
            token_verification_enabled=True,
            listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener"),
        )
    except (BoltError, SlackApiError) as err:
        # Bolt wraps auth.test's SlackApiError in a BoltError; the error code is on the original.
        cause = err if isinstance(err, SlackApiError) else err.__context__
        error = getattr(getattr(cause, "response", None), "data", None) or {}
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN at start-up ({error.get('error', 'auth.test failed')})"
                               ) from None
    except OSError as err:
        raise SlackUnavailable(f"cannot reach Slack's Web API at SLACK_API_URL ({type(err).__name__})") from None
    observe.instrument(app, services.metrics)  # request counts, ack and reply latency, workspace in the logs
    handlers.register(app, services, ArxivLookups())
    search_index.follow(services.store.engine)  # this process answers /papers: build and follow the index
    return app
