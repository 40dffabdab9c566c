"""`/papers`: the subcommand registry and its router, and the search result buttons (More, Share).

`SUBCOMMANDS` is the one table of subcommands: each entry names its handler `(services, command, args) ->
reply`, its line in `/papers help`, and how its arguments route. Adding a subcommand is one handler
function and one entry; routing, dispatch, the help text and typo suggestions all read the table.

Routing (`route`, pure):
- empty -> help; a subcommand's name or alias -> that subcommand with the rest as its arguments;
- a subcommand that is also a search word (`unread`) takes only a paper ref or nothing: followed by
  anything else the whole text is a search (`/papers unread kv cache`);
- `search ...` searches the rest, so words that are command names can be searched;
- an unknown subcommand-like word gets a short "unknown command" reply: a first word that starts with
  `/` or `--`, or is one slip from a command name (`hepl`, `topics`, `histroy`) and stands alone, or
  before a paper ref when that command takes one (`raed 2503.14881`);
- anything else is a search.

Every listener acks at once (Slack wants the ack within 3 s) and does its work in a lazy listener,
which answers through `respond` (the response_url). Domain errors become user text in one place,
`handlers.common.user_text_on_failure`; nothing reaches Slack as a 5xx.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from difflib import get_close_matches
from functools import partial
from importlib.metadata import version as package_version

from slack_sdk.errors import SlackApiError

from bot import search
from bot.arxiv_ids import find_arxiv_id, parse_arxiv_id
from bot.reading import look_up_paper, needs_arxiv_lookup
from bot.render_blocks import help as help_views
from bot.render_blocks import search as views
from bot.render_blocks.common import MORE_LIKE_THIS, SEARCH_MORE, SEARCH_SHARE, problem_message
from bot.render_blocks.mrkdwn import unescape
from bot.render_blocks.reading import fetching_message, lookups_busy_message
from bot.render_blocks.recommend import FORYOU_MORE
from bot.slack_errors import CHANNEL_ACCESS_ERRORS
from handlers import bibtex, follows, reading, recommend, saved, topic
from handlers.arxiv_lookups import ArxivLookups
from handlers.common import Click, ack_now, user_text_on_failure, who

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
MIN_TYPO_LENGTH = 4  # shorter words are too often real search words (`rag`, `moe`)


@dataclass(frozen=True)
class Subcommand:
    name: str
    handler: Callable[..., dict]  # (services, command body, argument text) -> the reply for `respond`
    help: str  # its line in `/papers help` (mrkdwn)
    takes_paper_ref: bool = False  # its argument is an arXiv id or link
    also_a_search_word: bool = False  # followed by anything but a paper ref, the whole text is a search
    aliases: tuple[str, ...] = ()
    # It may wait on arXiv (a paper not stored yet): then it runs on the lookup pool, off the one that
    # answers searches, and the user is told at once that the paper is being fetched.
    looks_up_arxiv: bool = False
    changes_state: bool = False  # it records or edits something: a replay of the same request is dropped
    # It calls Slack's Web API itself: it gets the request's Web client, which carries the token of the workspace
    # the command came from (with OAuth, each workspace's own).
    acts_in_slack: bool = False


def help_command(services, command: dict, args: str) -> dict:
    return help_views.usage_message([(entry.name, entry.help) for entry in SUBCOMMANDS])


def search_command(services, command: dict, args: str) -> dict:
    if not args:
        return help_command(services, command, args)
    return search_reply(services, query=args, offset=0, reader=who(command))


def version_command(services, command: dict, args: str) -> dict:
    return help_views.note_message(f"papers-bot {package_version('papers-bot')}")


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("topic", topic.topic_command,
               "`/papers topic` — this channel's digest topic; `/papers topic set sparse, KV cache` changes it",
               changes_state=True, acts_in_slack=True),
    Subcommand("read", reading.read_command, "`/papers read 2503.14881` — mark a paper read (an id or an arXiv link)",
               takes_paper_ref=True, looks_up_arxiv=True, changes_state=True),
    Subcommand("unread", reading.unread_command, "`/papers unread https://arxiv.org/abs/2503.14881` — mark it unread",
               takes_paper_ref=True, also_a_search_word=True, changes_state=True),
    Subcommand("history", reading.history_command, "`/papers history` — what you've read, newest first"),
    Subcommand("saved", saved.saved_command, "`/papers saved` — the papers you saved for later, newest first"),
    Subcommand("follow", follows.follow_command,
               "`/papers follow kv cache` — new matching papers by DM once a day (search syntax: `author:`, `cat:`)",
               changes_state=True),
    Subcommand("bib", bibtex.bib_command,
               "`/papers bib 2503.14881 hep-th/9901001`, `/papers bib saved`, `/papers bib history 20` — BibTeX",
               looks_up_arxiv=True, acts_in_slack=True),
    Subcommand("follows", follows.follows_command, "`/papers follows` — what you follow, with Remove"),
    Subcommand("unfollow", follows.unfollow_command, "`/papers unfollow 2` (or its words) — stop following",
               changes_state=True),
    # `/papers 2503.14881` is a search for that paper: fetched from arXiv (on the lookup pool) when not stored.
    Subcommand("search", search_command,
               "`/papers search topic models` — search for words that are also command names", looks_up_arxiv=True),
    Subcommand("foryou", recommend.foryou_command,
               "`/papers foryou [cat:cs.CL words]` — your unread papers, ranked by what you read (only you see it)",
               aliases=("for-you",)),
    Subcommand("similar", recommend.similar_command, "`/papers similar 2503.14881` — the papers nearest to one",
               takes_paper_ref=True),
    Subcommand("popular", recommend.popular_command,
               "`/papers popular [week|month]` — the most read papers here (counts only, never who)"),
    Subcommand("dm", recommend.dm_command, "`/papers dm on` — your top new papers by DM each morning (`off` stops)"),
    Subcommand("version", version_command, "`/papers version` — which papers-bot version is answering"),
    Subcommand("help", help_command, "`/papers help` — this message", aliases=("-h", "--help", "?")),
)
BY_WORD = {word: entry for entry in SUBCOMMANDS for word in (entry.name, *entry.aliases)}


def closest_subcommand(word: str) -> Subcommand | None:
    """The subcommand `word` is one slip from (a letter wrong, missing, extra or swapped), if any.

    One slip in an n-letter word keeps difflib's ratio at (n-1)/n or above and two slips fall below
    it, so `research` and `vision` stay searches while `histroy` and `hepl` are typos."""
    word = word.lower()
    if len(word) < MIN_TYPO_LENGTH:
        return None
    names = [entry.name for entry in SUBCOMMANDS if abs(len(entry.name) - len(word)) <= 1]
    cutoff = (len(word) - 1) / len(word) - 1e-9  # difflib compares with >=; allow for rounding
    close = get_close_matches(word, names, n=1, cutoff=cutoff)
    return BY_WORD[close[0]] if close else None


def route(text: str) -> tuple[str, str]:
    """(subcommand name, or "search" or UNKNOWN; its argument text) for the command text."""
    stripped = (text or "").strip()
    word, _, rest = stripped.partition(" ")
    first, rest = word.lower(), rest.strip()
    if not first:
        return "help", ""
    entry = BY_WORD.get(first)
    if entry is not None:
        if entry.also_a_search_word and rest and parse_arxiv_id(rest) is None:
            return "search", stripped
        return entry.name, rest
    if first.startswith(("/", "--")):
        return UNKNOWN, word
    near = closest_subcommand(first)
    if near is not None and (not rest or (near.takes_paper_ref and find_arxiv_id(rest))):
        return UNKNOWN, word
    return "search", stripped


def search_reply(services, *, query: str, offset: int, reader: dict[str, str]) -> dict:
    """A page of results; an arXiv id or link alone shows that paper (fetched from arXiv when not stored)."""
    if parse_arxiv_id(query) is not None:
        paper, read = look_up_paper(services.store.session_factory, ref=query, arxiv=services.arxiv, **reader)
        return views.paper_result_message(paper, read=read, query_text=query)
    page = search.run_search(services.store.session_factory, query=query, limit=views.PAGE_SIZE, offset=offset,
                             **reader)
    if page.total == 0:
        return views.no_matches_message(page.query)
    if not page.hits:  # a More button from before the index shrank
        return problem_message("There are no more results for that search.")
    return views.results_message(page)


@user_text_on_failure
def papers_reply(services, command: dict, *, lookups: ArxivLookups | None = None, respond=None,
                 client=None) -> dict:
    """The reply to one `/papers` command, as keyword arguments for `respond`. With `lookups` and `respond`,
    a subcommand that must wait on arXiv answers "fetching…" now and `respond`s again when it is done.
    `client`: the request's Web client, for the subcommands that act in Slack."""
    # Slack sends `&`, `<` and `>` typed by the user as `&amp;`, `&lt;`, `&gt;`: route and store what was
    # typed (`R&D`, not `R&amp;D`); every reply escapes it again.
    name, args = route(unescape(command.get("text") or ""))
    if name == UNKNOWN:
        typed = args.lower().lstrip("/-")
        suggestion = BY_WORD.get(typed) or closest_subcommand(typed)
        return help_views.unknown_command_message(args, suggestion.name if suggestion else None)
    entry = BY_WORD[name]
    handler = partial(entry.handler, client=client) if entry.acts_in_slack and client is not None else entry.handler
    if entry.looks_up_arxiv and lookups is not None and respond is not None:
        missing = needs_arxiv_lookup(services.store.session_factory, arxiv_id=args)
        if missing is not None:
            later = partial(_respond_with, respond, handler, services, command, args)
            return fetching_message(missing) if lookups.submit(later) else lookups_busy_message()
    return handler(services, command, args)


def _respond_with(respond, handler, services, command: dict, args: str) -> None:
    respond(**handler(services, command, args))


@user_text_on_failure
def more_reply(services, body: dict) -> dict:
    click = Click.from_body(body)
    parsed = views.parse_more_value(click.value)
    if parsed is None:
        return problem_message("That button no longer works; please run the search again.")
    query, offset = parsed
    return {**search_reply(services, query=query, offset=offset, reader=who(click)), "replace_original": True}


@user_text_on_failure
def share(services, body: dict, client) -> dict | None:
    """Post one result to the channel for everyone; returns a note for the sharer only when it fails."""
    click = Click.from_body(body)
    arxiv_id = click.value[:64]
    paper = search.find_paper(services.store.session_factory, arxiv_id=arxiv_id) if arxiv_id else None
    if paper is None:
        return problem_message("That paper is no longer in the store; run the search again.")
    channel = click.channel_id
    if not channel:
        return problem_message("I can't tell which channel to share it in.")
    message = views.shared_paper_message(paper, shared_by=click.user_id)
    try:
        client.chat_postMessage(channel=channel, **message)
    except SlackApiError as err:
        error = err.response.get("error", "") if err.response is not None else ""
        log.warning("share to %s failed: %s", channel, error)
        if error in CHANNEL_ACCESS_ERRORS:
            return problem_message(
                "I can't post in this channel. Invite me with `/invite @papers-bot` and try again "
                "(private channels and direct messages need that)."
            )
        return problem_message("Slack didn't take the shared message; please try again in a moment.")
    return None


# -- listeners: module-level, given the services by `register` -------------------------------------------


def answer_papers(services, lookups: ArxivLookups, command: dict, respond, client) -> None:
    respond(**papers_reply(services, command, lookups=lookups, respond=respond, client=client))


def show_more(services, body: dict, respond) -> None:
    respond(**more_reply(services, body))


def share_result(services, body: dict, client, respond) -> None:
    note = share(services, body, client)
    if note:
        respond(**{**note, "replace_original": False})


def register(app, services, lookups: ArxivLookups) -> None:
    app.command("/papers")(ack=ack_now, lazy=[partial(answer_papers, services, lookups)])
    app.action(SEARCH_MORE)(ack=ack_now, lazy=[partial(show_more, services)])
    app.action(SEARCH_SHARE)(ack=ack_now, lazy=[partial(share_result, services)])
    app.action(MORE_LIKE_THIS)(ack=ack_now, lazy=[partial(recommend.show_more_like_this, services)])
    app.action(FORYOU_MORE)(ack=ack_now, lazy=[partial(recommend.show_more_foryou, services)])
