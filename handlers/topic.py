"""`/papers topic`: show or edit the channel's digest topic (owned by the digest issue).

`topic` shows it; `topic set …`, `topic exclude …`, `topic categories …` and `topic reset` edit it for
the channel the command was typed in. The next digest for that channel uses the new topic.
"""

from __future__ import annotations

from bot import channel_topics
from bot.render_blocks.digest import topic_problem, topic_reply

_EDITS = {"set": "keywords", "keywords": "keywords", "exclude": "exclude", "categories": "categories"}
_CLEAR = {"none", "any", "-", "clear"}


def _schedule(settings) -> str:
    return f"on {settings.digest_days.replace(',', ', ')} at {settings.digest_time:%H:%M} {settings.digest_timezone}"


def _show(services, channel: str | None, notice: str | None = None) -> dict:
    settings = services.settings
    topic, source = channel_topics.channel_topic(services.store.session_factory, settings, channel)
    return topic_reply(channel=channel, topic=topic, source=source,
                       is_digest_channel=bool(channel) and channel == settings.digest_channel,
                       schedule=_schedule(settings), notice=notice)


def topic_command(services, command: dict, args: str) -> dict:
    """Return the ephemeral reply (`text`, optional `blocks`) for `/papers topic [edit]`."""
    channel = command.get("channel_id")
    action, _, rest = (args or "").strip().partition(" ")
    action = action.lower()
    if action in ("", "show"):
        return _show(services, channel)
    if not channel:
        return topic_problem("Topics belong to a channel; run this in the channel.")
    if action == "reset":
        channel_topics.reset_channel_topic(services.store.session_factory, channel)
        return _show(services, channel, "This channel's topic is back to the default.")
    if action not in _EDITS:
        return topic_problem(f"I don't know `topic {action}`.")
    field_name = _EDITS[action]
    try:
        terms = () if rest.strip().lower() in _CLEAR else channel_topics.parse_terms(rest)
        channel_topics.edit_channel_topic(services.store.session_factory, services.settings, channel,
                                          field_name=field_name, terms=terms)
    except channel_topics.TopicError as err:
        return topic_problem(str(err))
    return _show(services, channel, f"Updated this channel's {field_name.replace('exclude', 'exclusions')}.")
