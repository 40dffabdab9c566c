"""Slack actions listeners (filled in by the issue that owns them)."""

from __future__ import annotations


def register(app, services) -> None:
    """Nothing registered yet."""
