"""The Bolt app: signature verification, ack-then-work, every listener registered, every request observed
(handlers.observe); one workspace's bot token checked by auth.test at start-up, or many workspaces installed
through OAuth (handlers/oauth.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

import handlers
from bot import installs, search_index
from handlers import oauth, observe
from handlers.arxiv_lookups import ArxivLookups
from handlers.web_client import build_web_client

# Lazy listeners (every search, click and App Home after its ack) run on this many threads; Bolt's
# default is 5. README "Load": ~75 requests/s at concurrency 20 with replies of ~250-450 ms means about
# 20-30 in flight at the peak; 16 keeps all but the burst's tail from queueing, while the searches,
# CPU-bound on 2 cores, would gain nothing from more. Work that waits on arXiv has its own pool
# (handlers.arxiv_lookups), so a stall there never takes these threads.
LISTENER_THREADS = 16
# The name Bolt gives its listeners' loggers: the one it found by itself (its caller's file name). Left unset,
# Bolt finds it with inspect.stack(), which reads the source of every frame on the stack: ~45 ms an app, and
# in the test suite, which builds an app per server test, 10 s of CPU a run.
APP_NAME = "bolt_app.py"


class SlackUnavailable(Exception):
    """Slack's Web API refused the token or could not be reached when the app started."""


def build_bolt_app(services) -> App:
    """The real Bolt app with signature verification and every listener registered."""
    settings = services.settings
    if settings.oauth_enabled:
        app = _oauth_app(services)
    else:
        app = _single_workspace_app(settings)
        oauth.register(app, services, None)  # an uninstall stops the token's workspace's digests and DMs too
    observe.instrument(app, services.metrics)  # request counts, ack and reply latency, workspace in the logs
    handlers.register(app, services, ArxivLookups())
    search_index.follow(services.store.engine)  # this process answers /papers: build and follow the index
    return app


def _app_options(settings) -> dict:
    return {
        "signing_secret": settings.slack_signing_secret or "socket-mode-has-no-signing-secret",
        # Ack-then-work: listeners ack within Slack's 3 s, lazy functions do the rest in a thread.
        "process_before_response": True,
        "listener_executor": ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="bolt-listener"),
        "name": APP_NAME,
    }


def _oauth_app(services) -> App:
    """Many workspaces: each request runs on its workspace's installation; Slack's OAuth pages are served."""
    settings = services.settings
    settings.require("SLACK_SIGNING_SECRET")  # the install pages are HTTP, so the requests are too
    client = build_web_client(settings)
    home = None
    if settings.slack_bot_token:  # the workspace served before OAuth was on goes on being served (handlers.oauth)
        home = _checked(lambda: oauth.home_workspace(client, settings.slack_bot_token))
    oauth_settings, authorize = oauth.oauth_settings(
        settings, services.store.engine, client, home=home,
        on_installed=lambda team_id, name: installs.on_workspace_installed(services, team_id, datetime.now(UTC), name))
    app = App(client=client, oauth_flow=oauth.install_flow(settings, oauth_settings), authorize=authorize,
              user_facing_authorize_error_message=oauth.NOT_INSTALLED, **_app_options(settings))
    oauth.register(app, services, oauth_settings.installation_store)
    app.error(oauth.on_error)
    return app


def _single_workspace_app(settings) -> App:
    """One workspace, SLACK_BOT_TOKEN."""
    settings.require("SLACK_BOT_TOKEN")
    if not settings.slack_app_token:
        settings.require("SLACK_SIGNING_SECRET")
    # auth.test once, here at start-up: left to the first request, it (and its retries) would eat
    # that request's 3 s, and a bad token would only show when a user types /papers.
    return _checked(lambda: App(client=build_web_client(settings), token_verification_enabled=True,
                                **_app_options(settings)))


def _checked(start):
    """start(), which checks SLACK_BOT_TOKEN with auth.test; Slack's refusal or silence is SlackUnavailable."""
    try:
        return start()
    except (BoltError, SlackApiError) as err:
        # Bolt wraps auth.test's SlackApiError in a BoltError; the error code is on the original.
        cause = err if isinstance(err, SlackApiError) else err.__context__
        error = getattr(getattr(cause, "response", None), "data", None) or {}
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN at start-up ({error.get('error', 'auth.test failed')})"
                               ) from None
    except OSError as err:
        raise SlackUnavailable(f"cannot reach Slack's Web API at SLACK_API_URL ({type(err).__name__})") from None
