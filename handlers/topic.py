"""`/papers topic`: the channel's digest topic (owned by the digest issue)."""

from __future__ import annotations

from bot import digest
from bot.render_blocks.digest import topic_reply


def _schedule(settings) -> str:
    return f"on {settings.digest_days.replace(',', ', ')} at {settings.digest_time:%H:%M} {settings.digest_timezone}"


def topic_command(services, command: dict, args: str) -> dict:
    """Return the ephemeral reply (`text`, optional `blocks`) for `/papers topic`."""
    settings = services.settings
    channel = command.get("channel_id")
    topic, source = digest.channel_topic(services.store.session_factory, settings, channel)
    return topic_reply(channel=channel, topic=topic, source=source,
                       is_digest_channel=bool(channel) and channel == settings.digest_channel,
                       schedule=_schedule(settings))
