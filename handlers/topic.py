"""`/papers topic`: the channel's digest topic (owned by the digest issue)."""

from __future__ import annotations


def topic_command(services, command: dict, args: str) -> dict:
    """Return the ephemeral reply (`text`, optional `blocks`) for `/papers topic`."""
    return {"response_type": "ephemeral", "text": "Showing the topic is not available yet."}
