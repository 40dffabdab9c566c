"""The digest's MessagePoster: chat.postMessage through slack_sdk's WebClient, each message carrying Slack
message metadata (run and part) that conversations.history / conversations.replies give back, and Slack's
errors as PostFailed.

chat.postMessage has no idempotency key: a 5xx, a reset or a timeout may hide a message Slack took. So the
client that posts never re-sends by itself after one (no ServerErrorRetryHandler, no connection retry);
the run looks for the message's metadata first (bot.digest_post). Only a 429 is retried here, after
Retry-After: Slack refused that message, so re-sending it cannot make a copy -- but five Retry-After
waits can outlast the run's lease, so before each re-send the run's fence is asked whether this process
still owns the run (it raises if not, and nothing is sent).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.models.metadata import Metadata

from bot.message_poster import MessageMark, PostFailed

EVENT_TYPE = "papers_digest"
RATE_LIMIT_RETRIES = 5
LOOKUP_PAGE = 200


class FencedRateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (wait Retry-After, send again), asking the current post's fence first."""

    def __init__(self, max_retry_count: int):
        super().__init__(max_retry_count=max_retry_count)
        self._current = threading.local()  # one poster may post for several runs at once (scheduler threads)

    @contextmanager
    def fenced(self, fence: Callable[[], None] | None) -> Iterator[None]:
        self._current.fence = fence
        try:
            yield
        finally:
            self._current.fence = None

    def prepare_for_next_attempt(self, **kwargs) -> None:
        super().prepare_for_next_attempt(**kwargs)  # sleeps Retry-After
        fence = getattr(self._current, "fence", None)
        if fence is not None:
            fence()  # raises (the run's LeaseLost) when another process owns the run by now: no re-send


def post_client_for(client: WebClient, rate_limit: FencedRateLimitRetry) -> WebClient:
    """A client like `client` (token, Slack URL, timeout) whose only retry is a 429's, after Retry-After."""
    return WebClient(token=client.token, base_url=client.base_url, timeout=client.timeout,
                     retry_handlers=[rate_limit])


def _failed(err: Exception) -> PostFailed:
    """A failed Slack call as PostFailed, saying whether Slack may have acted on it anyway."""
    if isinstance(err, SlackApiError):
        status = err.response.status_code
        error = err.response.get("error") if isinstance(err.response.data, dict) else None
        # A 5xx may come with an HTML page instead of Slack's JSON: keep the code short and loggable.
        code = error if error and len(error) <= 64 and " " not in error else f"http_{status}"
        return PostFailed(code, transient=status >= 500 or status == 429, maybe_posted=status >= 500,
                          retry_now=status >= 500)
    # No answer: refused means the request never left; a reset or a timeout may hide a message that landed.
    refused = isinstance(getattr(err, "reason", err), ConnectionRefusedError)
    return PostFailed(f"connection_error: {type(err).__name__}", transient=True, maybe_posted=not refused,
                      retry_now=True)


class SlackPoster:
    """Posts the digest's messages; never unfurls the arXiv links (each paper already shows its abstract).

    `client` (the app's WebClient, retrying as it likes) reads the channel back; posts go through a copy
    of it that does not re-send on its own (`post_client`)."""

    def __init__(self, client: WebClient):
        self.client = client
        self.rate_limit = FencedRateLimitRetry(max_retry_count=RATE_LIMIT_RETRIES)
        self.post_client = post_client_for(client, self.rate_limit)

    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None,
             mark: MessageMark | None = None, fence: Callable[[], None] | None = None) -> str:
        metadata = None
        if mark is not None:
            metadata = Metadata(event_type=EVENT_TYPE, event_payload={
                "run_id": mark.run_id, "digest_date": mark.digest_date.isoformat(), "chunk": mark.part})
        try:
            with self.rate_limit.fenced(fence):
                response = self.post_client.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, metadata=metadata,
                    unfurl_links=False, unfurl_media=False,
                )
        except (SlackApiError, OSError) as err:
            raise _failed(err) from err
        return response["ts"]

    def find_marked(self, *, channel: str, run_id: int, digest_date: date, thread_ts: str | None = None,
                    oldest: datetime | None = None) -> dict[int, str]:
        found: dict[int, str] = {}
        cursor = None
        try:
            while True:
                page = self._page(channel, thread_ts=thread_ts, oldest=oldest, cursor=cursor)
                for message in page.get("messages", []):
                    part = _part_of(message, run_id=run_id, digest_date=digest_date)
                    if part is not None:
                        found.setdefault(part, message["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return found
        except (SlackApiError, OSError) as err:
            raise _failed(err) from err

    def _page(self, channel: str, *, thread_ts: str | None, oldest: datetime | None, cursor: str | None):
        if thread_ts:
            return self.client.conversations_replies(channel=channel, ts=thread_ts, cursor=cursor, limit=LOOKUP_PAGE,
                                                     include_all_metadata=True)
        return self.client.conversations_history(channel=channel, cursor=cursor, limit=LOOKUP_PAGE,
                                                 oldest=f"{oldest.timestamp():.6f}" if oldest else None,
                                                 include_all_metadata=True)


def _part_of(message: dict, *, run_id: int, digest_date: date) -> int | None:
    """The part a message is of this run's digest (from its metadata), or None if it is not one of them."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if (metadata.get("event_type") != EVENT_TYPE or payload.get("run_id") != run_id
            or payload.get("digest_date") != digest_date.isoformat()):
        return None
    part = payload.get("chunk")
    return part if isinstance(part, int) else None
