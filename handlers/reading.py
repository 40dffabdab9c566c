"""`/papers read|unread|history` (owned by the read-tracking issue)."""

from __future__ import annotations


def read_command(services, command: dict, args: str) -> dict:
    return {"response_type": "ephemeral", "text": "Read tracking is not available yet."}


def unread_command(services, command: dict, args: str) -> dict:
    return {"response_type": "ephemeral", "text": "Read tracking is not available yet."}


def history_command(services, command: dict, args: str) -> dict:
    return {"response_type": "ephemeral", "text": "Read tracking is not available yet."}
