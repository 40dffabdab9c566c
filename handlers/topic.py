"""`/papers topic`: show or edit the channel's digest topic, and the notice for a channel whose digest was paused.

`topic` shows it to anyone; `topic set …`, `topic exclude …`, `topic categories …` and `topic reset` edit it for
the channel the command was typed in, in this order:
1. the edit is checked (terms, limits) and the current topic read: a database that is down fails here, before
   the channel hears of a change that could not be stored;
2. Slack is asked who is asking (users.info: admin or owner) and where (conversations.info: the channel's
   creator, a DM or group DM); bot.channel_topics decides. When Slack cannot be asked, the answer is no;
3. the change is announced in the channel in one line. If the bot cannot post there (not_in_channel, …) the
   edit is refused with "invite me", and nothing is stored: a digest there would never arrive;
4. the topic is stored with who changed it, which also resumes a paused channel. Should storing fail, the
   announcement is deleted again.
The next digest for that channel uses the new topic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import channel_topics
from bot.channel_topics import Editor, EditVerdict, PausedChannel
from bot.render_blocks.digest import (
    paused_digest_notice,
    topic_announcement_failed,
    topic_change_announcement,
    topic_channel_unreachable,
    topic_direct_message_refused,
    topic_edit_refused,
    topic_permission_unknown,
    topic_problem,
    topic_reply,
    topic_reset_announcement,
    with_paused_note,
)
from bot.slack_errors import CHANNEL_ACCESS_ERRORS
from handlers.common import who
from handlers.web_client import build_web_client

log = logging.getLogger(__name__)

_EDITS = {"set": "keywords", "keywords": "keywords", "exclude": "exclude", "categories": "categories"}
_CLEAR = {"none", "any", "-", "clear"}
_ADMIN_FLAGS = ("is_admin", "is_owner", "is_primary_owner")


class _Refused(Exception):
    """The edit stops here; `reply` tells the user why."""

    def __init__(self, reply: dict):
        super().__init__(reply.get("text", ""))
        self.reply = reply


def _schedule(settings) -> str:
    return f"on {settings.digest_days.replace(',', ', ')} at {settings.digest_time:%H:%M} {settings.digest_timezone}"


def _show(services, channel: str | None, notice: str | None = None, *, team_id: str) -> dict:
    settings = services.settings
    factory = services.store.session_factory
    topic, source = channel_topics.channel_topic(factory, settings, channel, team_id=team_id)
    reply = topic_reply(channel=channel, topic=topic, source=source,
                        is_digest_channel=bool(channel) and channel == settings.digest_channel,
                        schedule=_schedule(settings), notice=notice)
    paused_at = channel_topics.paused_since(factory, channel, team_id=team_id) if channel else None
    return with_paused_note(reply, paused_at=paused_at) if paused_at else reply


def _slack_error(err: SlackApiError) -> str:
    data = err.response.data if err.response is not None else None
    return str(data.get("error", "")) if isinstance(data, dict) else ""


def _ask_slack(client: WebClient, settings, *, user_id: str, channel: str) -> tuple[EditVerdict, str | None]:
    """bot.channel_topics' verdict on what Slack says about the user and the channel, and the channel's creator.
    Raises SlackApiError or OSError when Slack cannot be asked."""
    direct = channel.startswith("D")  # a DM's id; conversations.info needs the bot to be in it
    info = {} if direct else client.conversations_info(channel=channel)["channel"]
    direct = direct or bool(info.get("is_im") or info.get("is_mpim"))
    creator = info.get("creator") or None
    user = {} if direct else client.users_info(user=user_id)["user"]
    editor = Editor(user_id=user_id, is_admin=any(bool(user.get(flag)) for flag in _ADMIN_FLAGS),
                    is_channel_creator=creator == user_id)
    return channel_topics.edit_verdict(editor, settings, direct_message=direct), creator


def _allowed_editor(services, command: dict, client: WebClient | None) -> str:
    """The user id of who asks, when they may change this channel's topic; else raises _Refused."""
    settings, channel = services.settings, command["channel_id"]
    user_id = str(command.get("user_id") or "")
    if client is None or not user_id:
        raise _Refused(topic_permission_unknown())
    try:
        verdict, creator = _ask_slack(client, settings, user_id=user_id, channel=channel)
    except (SlackApiError, OSError) as err:
        code = _slack_error(err) if isinstance(err, SlackApiError) else type(err).__name__
        log.warning("topic edit in %s by %s: Slack did not say who may edit it (%s); refused", channel, user_id, code)
        raise _Refused(topic_channel_unreachable() if code in CHANNEL_ACCESS_ERRORS
                       else topic_permission_unknown()) from None
    if verdict is EditVerdict.DIRECT_MESSAGE:
        raise _Refused(topic_direct_message_refused())
    if verdict is EditVerdict.NOT_AN_EDITOR:
        raise _Refused(topic_edit_refused(creator=creator, editors=settings.digest_editors))
    return user_id


def _announce(client: WebClient, channel: str, message: dict) -> str:
    """Post the change's one line in the channel; its ts. Raises _Refused when Slack does not take it."""
    try:
        return client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **message)["ts"]
    except (SlackApiError, OSError) as err:
        code = _slack_error(err) if isinstance(err, SlackApiError) else type(err).__name__
        log.warning("topic edit in %s: the announcement was refused (%s); nothing stored", channel, code)
        raise _Refused(topic_channel_unreachable() if code in CHANNEL_ACCESS_ERRORS
                       else topic_announcement_failed()) from None


@contextmanager
def _withdrawn_on_failure(client: WebClient, channel: str, ts: str) -> Iterator[None]:
    """Delete the announcement again if the change it announces could not be stored."""
    try:
        yield
    except Exception:
        try:
            client.chat_delete(channel=channel, ts=ts)
        except (SlackApiError, OSError) as err:
            log.warning("topic edit in %s was not stored, and its announcement %s could not be deleted (%s)",
                        channel, ts, type(err).__name__)
        raise


def _client(services) -> WebClient | None:
    """The Web client that asks Slack about the editor; None without a bot token (nobody can be checked)."""
    return build_web_client(services.settings) if services.settings.slack_bot_token else None


def _reset(services, command: dict, client: WebClient | None) -> dict:
    settings, factory, channel = services.settings, services.store.session_factory, command["channel_id"]
    team_id = who(command)["team_id"]
    _, source = channel_topics.channel_topic(factory, settings, channel, team_id=team_id)
    if source != "channel":
        return _show(services, channel, "This channel already uses the default topic.", team_id=team_id)
    try:
        user_id = _allowed_editor(services, command, client)
        announcement = topic_reset_announcement(user_id=user_id, is_digest_channel=channel == settings.digest_channel)
        ts = _announce(client, channel, announcement)
    except _Refused as refused:
        return refused.reply
    with _withdrawn_on_failure(client, channel, ts):
        channel_topics.reset_channel_topic(factory, channel, team_id=team_id)
    return _show(services, channel, "This channel's topic is back to the default.", team_id=team_id)


def topic_command(services, command: dict, args: str, client: WebClient | None = None) -> dict:
    """Return the ephemeral reply (`text`, optional `blocks`) for `/papers topic [edit]`. `client` is the
    listener's Web client; left out, one is built from the settings."""
    channel = command.get("channel_id")
    team_id = who(command)["team_id"]  # two workspaces may both have this channel id: each has its own topic
    action, _, rest = (args or "").strip().partition(" ")
    action = action.lower()
    if action in ("", "show"):
        return _show(services, channel, team_id=team_id)
    if not channel:
        return topic_problem("Topics belong to a channel; run this in the channel.")
    client = client or _client(services)
    if action == "reset":
        return _reset(services, command, client)
    if action not in _EDITS:
        return topic_problem(f"I don't know `topic {action}`.")
    field_name = _EDITS[action]
    try:
        terms = () if rest.strip().lower() in _CLEAR else channel_topics.parse_terms(rest)
        channel_topics.check_edit(field_name=field_name, terms=terms)
    except channel_topics.TopicError as err:
        return topic_problem(str(err))
    factory = services.store.session_factory
    channel_topics.channel_topic(factory, services.settings, channel, team_id=team_id)  # the database first: step 1
    try:
        user_id = _allowed_editor(services, command, client)
        ts = _announce(client, channel, topic_change_announcement(user_id=user_id, field_name=field_name,
                                                                  terms=terms))
    except _Refused as refused:
        return refused.reply
    with _withdrawn_on_failure(client, channel, ts):
        channel_topics.edit_channel_topic(factory, services.settings, channel, team_id=team_id, field_name=field_name,
                                          terms=terms, updated_by=user_id)
    return _show(services, channel, f"Updated this channel's {field_name.replace('exclude', 'exclusions')}.",
                 team_id=team_id)


def notify_paused(client: WebClient, paused: PausedChannel) -> bool:
    """DM the person who last set a paused channel's topic (conversations.open, then chat.postMessage); True
    when Slack took it. bot.channel_topics calls this once per pause and logs a warning when it is False."""
    try:
        opened = client.conversations_open(users=paused.last_editor)
        client.chat_postMessage(channel=opened["channel"]["id"], **paused_digest_notice(
            channel=paused.channel, refused_runs=paused.refused_runs, error=paused.error))
    except (SlackApiError, OSError) as err:
        code = _slack_error(err) if isinstance(err, SlackApiError) else type(err).__name__
        log.warning("could not tell %s that the digest to %s is paused (%s)", paused.last_editor, paused.channel, code)
        return False
    return True
