"""The one way the app builds a Slack Web API client (the listeners' and the digest poster's)."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings

TIMEOUT_SECONDS = 10


def build_web_client(settings: Settings) -> WebClient:
    """Every WebClient the app makes: pointed at SLACK_API_URL, retrying 429s after Retry-After, and a
    500/503 twice with backoff (slack_sdk retries neither by default)."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=5),
                        ServerErrorRetryHandler(max_retry_count=2)],
    )
