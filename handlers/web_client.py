"""The one way the app builds a Slack Web API client (the listeners' and the digest poster's)."""

from __future__ import annotations

import random

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter

from bot.config import Settings

TIMEOUT_SECONDS = 10


class ProportionalJitter(Jitter):
    """Up to as much again at random: slack_sdk's default adds up to a whole second, whatever the backoff."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random())


def build_web_client(settings: Settings, *, token: str | None = None) -> WebClient:
    """Every WebClient the app makes: pointed at SLACK_API_URL, retrying 429s after Retry-After, and a
    500/503 twice with backoff (slack_sdk retries neither by default), SLACK_RETRY_BACKOFF_SECONDS apart at first.
    `token`: a workspace's own bot token (OAuth installs); SLACK_BOT_TOKEN when left out."""
    backoff = BackoffRetryIntervalCalculator(backoff_factor=settings.slack_retry_backoff_seconds,
                                             jitter=ProportionalJitter())
    return WebClient(
        token=token or settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2, interval_calculator=backoff),
                        RateLimitErrorRetryHandler(max_retry_count=5),
                        ServerErrorRetryHandler(max_retry_count=2, interval_calculator=backoff)],
    )
