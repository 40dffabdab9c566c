"""The digest's MessagePoster: chat.postMessage through slack_sdk's WebClient, Slack errors as PostFailed."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.message_poster import PostFailed


class SlackPoster:
    """Posts the digest's messages; never unfurls the arXiv links (each paper already shows its abstract)."""

    def __init__(self, client: WebClient):
        self.client = client

    def post(self, *, channel: str, text: str, blocks: list[dict], thread_ts: str | None = None) -> str:
        try:
            response = self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as err:
            status = err.response.status_code
            error = err.response.get("error") if isinstance(err.response.data, dict) else None
            # A 5xx may come with an HTML page instead of Slack's JSON: keep the code short and loggable.
            code = error if error and len(error) <= 64 and " " not in error else f"http_{status}"
            raise PostFailed(code, transient=status >= 500 or status == 429) from err
        except OSError as err:
            # No answer after the connection retries (refused, reset, timed out). A timeout may hide a
            # message that did land; the run stops here rather than guess, and a rerun posts the rest.
            raise PostFailed(f"connection_error: {type(err).__name__}", transient=True) from err
        return response["ts"]
