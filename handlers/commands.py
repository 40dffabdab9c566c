"""`/papers`: the slash-command router, and the search result buttons (More, Share).

Every listener acks at once (Slack wants the ack within 3 s) and does its work in a lazy listener,
which answers through `respond` (the response_url). Routing:

- empty or `help` -> usage; `topic` -> handlers.topic; `read`, `history` -> handlers.reading;
- `unread` followed by nothing or an arXiv id/link -> handlers.reading; otherwise `unread` is the
  search filter (`/papers unread kv cache`);
- `search ...` searches the rest, so words that are command names can be searched;
- an unknown subcommand-like word gets a short "unknown command" reply: a first word that starts with
  `/` or `--`, or is one typo away from a command name (`hepl`, `topics`, `histroy`) and stands alone
  or before an arXiv id;
- anything else is a search.

Domain errors become user text in one place, `handlers.common.user_text_on_failure`; nothing reaches
Slack as a 5xx.
"""

from __future__ import annotations

import logging
import re

from bot import search
from bot.reading import BadPaperRef, parse_paper_ref
from bot.render_blocks import help as help_views
from bot.render_blocks import search as views
from bot.render_blocks.common import SEARCH_MORE, SEARCH_SHARE, problem_message
from bot.render_blocks.mrkdwn import unescape
from handlers import reading, topic
from handlers.common import Click, ack_now, user_text_on_failure

log = logging.getLogger(__name__)

SUBCOMMANDS = ("help", "topic", "read", "unread", "history", "search")
_ARXIV_ID = re.compile(r"[a-z][a-z.-]*/\d{7}|\d{4}\.\d{4,5}", re.IGNORECASE)


def _one_edit_apart(word: str, name: str) -> bool:
    """True for one insertion, deletion, substitution or swap of neighbours (Damerau distance 1)."""
    if word == name or abs(len(word) - len(name)) > 1:
        return False
    if len(word) == len(name):
        diffs = [i for i, (a, b) in enumerate(zip(word, name, strict=True)) if a != b]
        return len(diffs) == 1 or (
            len(diffs) == 2 and diffs[1] == diffs[0] + 1 and word[diffs[0]] == name[diffs[1]]
            and word[diffs[1]] == name[diffs[0]]
        )
    short, long = sorted((word, name), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _is_paper_ref(text: str) -> bool:
    try:
        parse_paper_ref(text)
    except BadPaperRef:
        return False
    return True


def route(text: str) -> tuple[str, str]:
    """(what to do, its argument text) for the command text; pure, so the rules are easy to test."""
    stripped = (text or "").strip()
    word, _, rest = stripped.partition(" ")
    first = word.lower()
    rest = rest.strip()
    if first in ("", "help", "-h", "--help", "?"):
        return "help", ""
    if first in ("topic", "read", "history", "search"):
        return first, rest
    if first == "unread":
        return ("unread", rest) if not rest or _is_paper_ref(rest) else ("search", stripped)
    if first.startswith(("/", "--")):
        return "unknown", word
    near_miss = len(first) >= 4 and any(_one_edit_apart(first, name) for name in SUBCOMMANDS)
    if near_miss and (not rest or _ARXIV_ID.search(rest)):
        return "unknown", word
    return "search", stripped


def _reader(team_id: str | None, user_id: str | None) -> dict:
    return {"team_id": team_id or None, "user_id": user_id or None}


def search_reply(services, *, query: str, offset: int, team_id: str | None, user_id: str | None) -> dict:
    page = search.run_search(services.store.session_factory, query=query, limit=views.PAGE_SIZE, offset=offset,
                             **_reader(team_id, user_id))
    if page.total == 0:
        return views.no_matches_message(page.query)
    if not page.hits:  # a More button from before the index shrank
        return problem_message("There are no more results for that search.")
    return views.results_message(page)


@user_text_on_failure
def papers_reply(services, command: dict) -> dict:
    """The reply to one `/papers` command, as keyword arguments for `respond`."""
    # Slack sends `&`, `<` and `>` typed by the user as `&amp;`, `&lt;`, `&gt;`: route and store what was
    # typed (`R&D`, not `R&amp;D`); every reply escapes it again.
    kind, args = route(unescape(command.get("text") or ""))
    if kind == "help":
        return help_views.usage_message()
    if kind == "topic":
        return topic.topic_command(services, command, args)
    if kind == "read":
        return reading.read_command(services, command, args)
    if kind == "unread":
        return reading.unread_command(services, command, args)
    if kind == "history":
        return reading.history_command(services, command, args)
    if kind == "unknown":
        lowered = args.lower().lstrip("/-")
        suggestion = next((name for name in SUBCOMMANDS if lowered == name or _one_edit_apart(lowered, name)), None)
        return help_views.unknown_command_message(args, suggestion)
    if not args:
        return help_views.usage_message()
    return search_reply(services, query=args, offset=0, team_id=command.get("team_id"),
                        user_id=command.get("user_id"))


@user_text_on_failure
def more_reply(services, body: dict) -> dict:
    click = Click.from_body(body)
    parsed = views.parse_more_value(click.value)
    if parsed is None:
        return problem_message("That button no longer works; please run the search again.")
    query, offset = parsed
    reply = search_reply(services, query=query, offset=offset, team_id=click.team_id, user_id=click.user_id)
    return {**reply, "replace_original": True}


@user_text_on_failure
def share(services, body: dict, client) -> dict | None:
    """Post one result to the channel for everyone; returns a note for the sharer only when it fails."""
    from slack_sdk.errors import SlackApiError

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
        if error in ("not_in_channel", "channel_not_found", "is_archived", "restricted_action"):
            return problem_message(
                "I can't post in this channel. Invite me with `/invite @papers-bot` and try again "
                "(private channels and direct messages need that)."
            )
        return problem_message("Slack didn't take the shared message; please try again in a moment.")
    return None


def register(app, services) -> None:
    def answer_papers(command, respond):
        respond(**papers_reply(services, command))

    def show_more(body, respond):
        respond(**more_reply(services, body))

    def share_result(body, client, respond):
        note = share(services, body, client)
        if note:
            respond(**{**note, "replace_original": False})

    app.command("/papers")(ack=ack_now, lazy=[answer_papers])
    app.action(SEARCH_MORE)(ack=ack_now, lazy=[show_more])
    app.action(SEARCH_SHARE)(ack=ack_now, lazy=[share_result])
