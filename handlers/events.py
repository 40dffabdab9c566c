"""Slack events: `app_home_opened` publishes the user's App Home (counts, recent reads, unread digest papers)."""

from __future__ import annotations

import logging
from functools import partial

from slack_sdk.errors import SlackApiError

from bot import channel_topics, reading, recommend, saved
from bot.render_blocks import reading as views
from bot.render_blocks import recommend as recommend_views
from handlers.common import ack_now

log = logging.getLogger(__name__)


# Digests go to channels; a user's DMs and group DMs hold none (and would need more scopes to list).
MEMBER_CHANNEL_TYPES = "public_channel,private_channel"
MEMBERSHIP_PAGE = 200


def member_channels(client, user_id: str) -> frozenset[str]:
    """The channels the user is a member of (users.conversations, every page). When Slack will not say
    (a missing scope, an outage), none: the Home then shows no digest papers rather than another
    channel's."""
    channels: set[str] = set()
    try:
        for page in client.users_conversations(user=user_id, types=MEMBER_CHANNEL_TYPES, limit=MEMBERSHIP_PAGE):
            channels.update(channel["id"] for channel in page.get("channels") or [])
    except SlackApiError as err:
        log.warning("cannot list the channels of %s (%s): their App Home shows no digest papers", user_id,
                    err.response.get("error") if err.response is not None else "no answer")
        return frozenset()
    return frozenset(channels)


# A message's permalink never changes: Slack is asked once per process for each (bounded; cleared when full).
# Keyed by workspace too: two workspaces may both have a channel C123 (and a message there at the same ts).
_PERMALINKS: dict[tuple[str, str, str], str] = {}
MAX_PERMALINKS = 4096


def _permalink(client, team_id: str, channel: str, message_ts: str) -> str | None:
    key = (team_id, channel, message_ts)
    if key not in _PERMALINKS:
        try:
            link = client.chat_getPermalink(channel=channel, message_ts=message_ts).get("permalink")
        except SlackApiError as err:
            log.info("no permalink for %s/%s: %s", channel, message_ts,
                     err.response.get("error") if err.response is not None else "no answer")
            return None
        if len(_PERMALINKS) >= MAX_PERMALINKS:
            _PERMALINKS.clear()
        _PERMALINKS[key] = link
    return _PERMALINKS[key]


def thread_links(client, papers, *, team_id: str) -> dict[str, str]:
    """arxiv_id -> the permalink of the workspace's digest reply that carries it (opens its thread), where Slack
    gives one."""
    links = {}
    for item in papers:
        if item.channel and item.message_ts and (link := _permalink(client, team_id, item.channel, item.message_ts)):
            links[item.paper.arxiv_id] = link
    return links


def publish_home(services, client, *, team_id: str, user_id: str) -> None:
    """Build the user's home summary and publish it; views.publish replaces the whole tab."""
    factory, settings = services.store.session_factory, services.settings
    channels = member_channels(client, user_id)
    summary = reading.home_summary(factory, team_id=team_id, user_id=user_id, channels=channels,
                                   timezone=settings.digest_timezone)
    links = thread_links(client, summary.unread_digest_papers[: views.HOME_PAPERS_SHOWN], team_id=team_id)
    saved_page = saved.saved_list(factory, team_id=team_id, user_id=user_id, limit=saved.HOME_SAVED)
    foryou = recommend.for_you_by_reads(factory, team_id=team_id, user_id=user_id, limit=recommend_views.HOME_ITEMS,
                                        topics=channel_topics.topics_of_channels(factory, settings, channels,
                                                                                  team_id=team_id),
                                        window_days=settings.foryou_window_days)
    popular = recommend.popular(factory, team_id=team_id, window="week", limit=recommend_views.HOME_ITEMS)
    view = views.home_view(summary, links, saved=saved_page, foryou=foryou, popular=popular)
    client.views_publish(user_id=user_id, view=view)


def app_home_opened(services, body: dict, event: dict, client) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab needs nothing from us
    team_id = body.get("team_id") or (event.get("view") or {}).get("team_id", "")
    try:
        publish_home(services, client, team_id=team_id, user_id=event["user"])
    except reading.ReadingError as err:
        # Nowhere to show a message in the Home tab; the previous view stays. Log why.
        log.warning("App Home not refreshed for %s: %s", event.get("user"), err)


def register(app, services) -> None:
    app.event("app_home_opened")(ack=ack_now, lazy=[partial(app_home_opened, services)])
