"""`/papers foryou|similar|popular` and the More like this / For you More buttons: recommendations from reads.

Each handler makes one domain call (bot.recommend) and renders it (bot.render_blocks.recommend); a user's list and
its reasons only ever go back to that user (ephemeral replies, their own App Home).
"""

from __future__ import annotations

from bot import channel_topics, foryou_dm, recommend
from bot.reading import parse_paper_ref
from bot.render_blocks import recommend as views
from bot.render_blocks.common import problem_message
from handlers.common import Click, user_text_on_failure, who


def reader_topics(services, channel: str | None, *, team_id: str) -> list:
    """The topics a reader without reads is shown papers from: the channel they asked in (of their workspace),
    else the default."""
    topic, _ = channel_topics.channel_topic(services.store.session_factory, services.settings, channel,
                                            team_id=team_id)
    return [topic]


def foryou_page(services, *, reader: dict[str, str], channel: str | None, filters: str, offset: int,
                limit: int = views.PAGE_SIZE) -> recommend.ForYouPage:
    return recommend.for_you_by_reads(services.store.session_factory, **reader, limit=limit, offset=offset,
                                      filters=filters or None,
                                      topics=reader_topics(services, channel, team_id=reader["team_id"]),
                                      window_days=services.settings.foryou_window_days)


def foryou_command(services, command: dict, args: str) -> dict:
    page = foryou_page(services, reader=who(command), channel=command.get("channel_id"), filters=args, offset=0)
    return views.foryou_message(page)


def similar_command(services, command: dict, args: str) -> dict:
    page = recommend.similar(services.store.session_factory, arxiv_id=parse_paper_ref(args), limit=views.PAGE_SIZE,
                             window_days=services.settings.foryou_window_days)
    return views.similar_message(page)


def popular_command(services, command: dict, args: str) -> dict:
    page = recommend.popular(services.store.session_factory, team_id=who(command)["team_id"], window=args,
                             limit=views.PAGE_SIZE)
    return views.popular_message(page)


def dm_command(services, command: dict, args: str) -> dict:
    """`/papers dm on|off`: the morning DM of your top new papers, at digest time; `/papers dm` says which."""
    factory, reader, word = services.store.session_factory, who(command), (args or "").strip().lower()
    if word in ("on", "off"):
        foryou_dm.set_dm(factory, **reader, enabled=word == "on")
    enabled = foryou_dm.dm_enabled(factory, **reader)
    settings = services.settings
    return views.dm_status_message(enabled=enabled, when=f"{settings.digest_time:%H:%M} {settings.digest_timezone}",
                                   unknown=word not in ("", "on", "off"))


@user_text_on_failure
def more_like_this_reply(services, body: dict) -> dict:
    click = Click.from_body(body)
    page = recommend.similar(services.store.session_factory, arxiv_id=parse_paper_ref(click.value),
                             limit=views.PAGE_SIZE, window_days=services.settings.foryou_window_days)
    return {**views.similar_message(page), "replace_original": False}


@user_text_on_failure
def foryou_more_reply(services, body: dict) -> dict:
    click = Click.from_body(body)
    parsed = views.parse_foryou_more_value(click.value)
    if parsed is None:
        return problem_message("That button no longer works; run `/papers foryou` again.")
    filters, offset = parsed
    page = foryou_page(services, reader=who(click), channel=click.channel_id, filters=filters, offset=offset)
    return {**views.foryou_message(page), "replace_original": True}


def show_more_like_this(services, body: dict, respond) -> None:
    respond(**more_like_this_reply(services, body))


def show_more_foryou(services, body: dict, respond) -> None:
    respond(**foryou_more_reply(services, body))
