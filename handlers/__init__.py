"""Slack listeners, registered per kind. Each acks first, makes one domain call, renders, responds."""

from __future__ import annotations


def register(app, services) -> None:
    from handlers import actions, commands, events

    commands.register(app, services)
    actions.register(app, services)
    events.register(app, services)
