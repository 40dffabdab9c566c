"""The Bolt app: signature verification, ack-then-work, auth.test at start-up, every listener registered."""

from __future__ import annotations

from slack_bolt import App
from slack_bolt.error import BoltError
from slack_sdk.errors import SlackApiError

import handlers
from handlers.web_client import build_web_client


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
        )
    except (BoltError, SlackApiError) as err:
        # Bolt wraps auth.test's SlackApiError in a BoltError; the error code is on the original.
        cause = err if isinstance(err, SlackApiError) else err.__context__
        error = getattr(getattr(cause, "response", None), "data", None) or {}
        raise SlackUnavailable(f"Slack refused SLACK_BOT_TOKEN at start-up ({error.get('error', 'auth.test failed')})"
                               ) from None
    except OSError as err:
        raise SlackUnavailable(f"cannot reach Slack's Web API at SLACK_API_URL ({type(err).__name__})") from None
    handlers.register(app, services)
    return app
