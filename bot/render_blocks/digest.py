"""Block Kit for the digest: the parent message, the threaded replies of papers, the empty-day note.

Every message stays inside Slack's limits whatever the papers hold (a 1,920-character abstract, a
300-character title, 120 authors): at most 50 blocks, section text at most 3,000 characters, header
at most 150, and a top-level `text` fallback, all paper text escaped (a title `<!channel>` stays text).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from bot.digest_records import Digest, DigestEntry
from bot.render_blocks.common import authors_mrkdwn, context, highlight_mrkdwn, paper_buttons, section, title_link
from bot.render_blocks.mrkdwn import (
    ELLIPSIS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    entity_safe_prefix,
    escape,
    link,
    truncate,
)
from bot.topics import Topic, find_spans

# Room under Slack's 3,000 so a cut never lands on the limit itself.
_SECTION_BUDGET = MAX_SECTION_TEXT - 100
_LIST_TITLE_CHARS = 90
_FALLBACK_TITLE_CHARS = 200
_MAX_TITLE_SECTIONS = 10  # up to ~300 titles; the parent stays far below 50 blocks


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def keyword_counts_mrkdwn(counts: Sequence[tuple[str, int]]) -> str:
    return " · ".join(f"{escape(keyword)} {count}" for keyword, count in counts)


def title_list_sections(entries: Sequence[DigestEntry], *, max_sections: int = _MAX_TITLE_SECTIONS,
                        budget: int = _SECTION_BUDGET) -> list[str]:
    """Numbered linked titles split into sections that each fit; past `max_sections`, "…and N more"."""
    sections: list[list[str]] = [[]]
    size = 0
    for index, entry in enumerate(entries):
        paper = entry.paper
        line = f"{index + 1}. " + link(paper.abs_url.replace("http://", "https://"),
                                       truncate(paper.title, _LIST_TITLE_CHARS))
        if size + len(line) + 1 > budget:
            if len(sections) == max_sections:
                remaining = len(entries) - index
                # Make room for the "…and N more" line by giving back lines from the end.
                while sections[-1] and size + len(f"…and {remaining} more") > budget:
                    size -= len(sections[-1].pop()) + 1
                    remaining += 1
                sections[-1].append(f"…and {remaining} more")
                break
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
    return ["\n".join(lines) for lines in sections if lines]


def digest_parent_message(digest: Digest, *, papers_per_reply: int) -> dict:
    """Date, count, per-keyword counts and the list of titles; the papers follow in its thread."""
    count = len(digest.entries)
    day = digest.digest_date.isoformat()
    counts = keyword_counts_mrkdwn(digest.keyword_counts())
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(f"arXiv digest · {day}", MAX_HEADER_TEXT),
                                    "emoji": True}},
        section(f"*{_plural(count, 'new paper')}* on this channel's topic\n*Matched:* {counts or '—'}"),
        *(section(text) for text in title_list_sections(digest.entries)),
        context(f"The papers follow in this thread, {papers_per_reply} to a reply."),
    ]
    fallback = f"arXiv digest {day}: {_plural(count, 'new paper')}" + (f" ({counts})" if counts else "")
    return {"text": truncate(fallback, MAX_FALLBACK_TEXT), "blocks": blocks}


def paper_blocks(entry: DigestEntry, keywords: Sequence[str]) -> list[dict]:
    """One paper: linked title, authors, date and categories; the abstract with keywords bold; what
    matched; Mark read and PDF buttons."""
    paper = entry.paper
    categories = ", ".join(escape(c) for c in paper.categories[:8])
    head = (
        f"{title_link(paper)}\n{authors_mrkdwn(paper.authors)}\n"
        f"{paper.published.date().isoformat()}" + (f" · {categories}" if categories else "")
    )
    abstract = highlight_mrkdwn(paper.abstract, find_spans(paper.abstract, keywords), limit=_SECTION_BUDGET)
    matched = ", ".join(escape(k) for k in entry.matched) or "—"
    return [
        section(head[:MAX_SECTION_TEXT]),
        section(abstract),
        context(f"matched: {matched}"),
        paper_buttons(paper, block_id=f"digest:{paper.arxiv_id}"),
    ]


def digest_reply_message(entries: Sequence[DigestEntry], keywords: Sequence[str]) -> dict:
    """Several papers in one threaded reply (5 blocks each, so at most 10 papers fit in 50)."""
    blocks: list[dict] = []
    for index, entry in enumerate(entries):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(paper_blocks(entry, keywords))
    titles = "; ".join(escape(truncate(e.paper.title, _FALLBACK_TITLE_CHARS)) for e in entries)
    return {"text": truncate(titles, MAX_FALLBACK_TEXT), "blocks": blocks}


def arxiv_unavailable_message(digest_date: date) -> dict:
    text = f"arXiv is unavailable right now; the digest for {digest_date.isoformat()} will follow."
    return {"text": text, "blocks": [section(text)]}


def empty_digest_message(digest_date: date) -> dict:
    text = f"arXiv digest · {digest_date.isoformat()}: no new papers on this channel's topic today."
    return {"text": text, "blocks": [section(text)]}


TOPIC_USAGE = (
    "`/papers topic` shows this channel's digest topic. To change it:\n"
    "• `/papers topic set sparse, KV cache, low-bit` (keywords, comma-separated)\n"
    "• `/papers topic exclude survey, review` (or `exclude none`)\n"
    "• `/papers topic categories cs.LG, cs.CL` (or `categories any`)\n"
    "• `/papers topic reset` (back to the default topic)"
)


def topic_problem(message: str) -> dict:
    text = f"{escape(message)}\n{TOPIC_USAGE}"
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def topic_reply(*, channel: str | None, topic: Topic, source: str, is_digest_channel: bool, schedule: str,
                notice: str | None = None) -> dict:
    """The `/papers topic` answer: keywords, exclusions, categories, and when the digest is posted."""

    def listing(items: Sequence[str]) -> str:
        return ", ".join(f"`{escape(truncate(item, 100))}`" for item in items) or "_none_"

    origin = "set for this channel" if source == "channel" else "the default topic (DIGEST_KEYWORDS)"
    posted = (f"Digests are posted here {escape(schedule)}." if is_digest_channel or source == "channel"
              else "No digest is posted to this channel; DIGEST_CHANNEL or a channel topic decides where.")
    lines = [
        *([f":white_check_mark: {escape(notice)}"] if notice else []),
        f"*Digest topic* ({origin})",
        f"*Keywords:* {listing(topic.keywords)}",
        f"*Excluded:* {listing(topic.exclude)}",
        f"*Categories:* {listing(topic.categories) if topic.categories else '_any_'}",
        posted,
    ]
    text = "\n".join(lines)
    if len(text) > _SECTION_BUDGET:
        text = text[:_SECTION_BUDGET] + ELLIPSIS
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


# -- who may change a channel's topic, and the one-line announcement of each change ---------------------

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")
_SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,30}")
_TOPIC_FIELD_WORDS = {"keywords": "keywords", "exclude": "exclusions", "categories": "categories"}
_ANNOUNCEMENT_BUDGET = MAX_SECTION_TEXT - 200  # the terms' share of a one-section announcement
_EDITORS_SHOWN = 10


def _mention(user_id: str) -> str:
    """`<@U…>` for a real-looking Slack user id; anything else stays text."""
    return f"<@{user_id}>" if _SLACK_USER_ID.fullmatch(user_id) else f"`{escape(user_id)}`"


def _channel_mention(channel: str) -> str:
    return f"<#{channel}>" if _SLACK_CHANNEL_ID.fullmatch(channel) else f"`{escape(channel)}`"


def _terms_within(terms: Sequence[str], budget: int) -> str:
    shown: list[str] = []
    for term in terms:
        item = f"`{escape(truncate(term, 100))}`"
        if sum(len(s) + 2 for s in shown) + len(item) > budget:
            return ", ".join(shown) + f" and {len(terms) - len(shown)} more"
        shown.append(item)
    return ", ".join(shown)


def _ephemeral(text: str) -> dict:
    return {"response_type": "ephemeral", "text": text, "blocks": [section(text)]}


def topic_change_announcement(*, user_id: str, field_name: str, terms: Sequence[str]) -> dict:
    """The one line posted in the channel for everyone: who changed which part of its digest topic, to what."""
    what = f"this channel's digest {_TOPIC_FIELD_WORDS[field_name]}"
    if terms:
        change = f"set {what} to {_terms_within(terms, _ANNOUNCEMENT_BUDGET)}"
    else:
        change = f"set {what} to any category" if field_name == "categories" else f"cleared {what}"
    text = f"{_mention(user_id)} {change}"
    return {"text": text, "blocks": [section(text)]}


def topic_reset_announcement(*, user_id: str, is_digest_channel: bool) -> dict:
    change = ("reset this channel's digest topic to the default" if is_digest_channel
              else "removed this channel's digest topic, so no more digests are posted here")
    text = f"{_mention(user_id)} {change}"
    return {"text": text, "blocks": [section(text)]}


def topic_edit_refused(*, creator: str | None, editors: Sequence[str]) -> dict:
    """The polite no for a member who may not change the topic, naming who can."""
    creator_part = f"this channel's creator ({_mention(creator)})" if creator else "this channel's creator"
    named = ", ".join(_mention(e) for e in editors[:_EDITORS_SHOWN]) + (" …" if len(editors) > _EDITORS_SHOWN else "")
    editors_part = f"the people named in DIGEST_EDITORS ({named})" if editors else "the people named in DIGEST_EDITORS"
    return _ephemeral(f"Sorry, only workspace admins and owners, {creator_part} and {editors_part} can change this "
                      "channel's digest topic. Please ask one of them; `/papers topic` shows the current one.")


def topic_direct_message_refused() -> dict:
    return _ephemeral("Direct messages and group DMs don't get a digest. Run `/papers topic set …` in the channel "
                      "that should get one.")


def topic_permission_unknown() -> dict:
    return _ephemeral("I couldn't check with Slack whether you may change this channel's digest topic, so nothing "
                      "was changed. Please try again in a moment.")


def topic_channel_unreachable() -> dict:
    return _ephemeral("I can't post in this channel, so it can't get a digest and nothing was changed. Invite me "
                      "with `/invite @papers-bot`, then try again.")


def topic_announcement_failed() -> dict:
    return _ephemeral("Slack didn't take my note announcing this change in the channel, so nothing was changed. "
                      "Please try again in a moment.")


def with_paused_note(reply: dict, *, paused_at: datetime) -> dict:
    """`/papers topic` in a paused channel: the topic, then why no digest comes and how to resume it."""
    note = (f":double_vertical_bar: The digest here is paused since {paused_at:%Y-%m-%d}: Slack kept refusing it. "
            "Invite me with `/invite @papers-bot`, then change the topic (any `/papers topic` edit) to resume it.")
    head, room = reply["text"], MAX_SECTION_TEXT - len(note) - 2
    if len(head) > room:
        head = entity_safe_prefix(head, room - 1) + ELLIPSIS
    return _ephemeral(f"{head}\n{note}")


def paused_digest_notice(*, channel: str, refused_runs: int, error: str) -> dict:
    """The one direct message to whoever last set the topic of a channel the digest had to stop posting to."""
    text = (f"I paused the arXiv digest in {_channel_mention(channel)}: Slack refused the last "
            f"{_plural(refused_runs, 'digest')} there (`{escape(error)}`). Invite me with `/invite @papers-bot` in "
            "that channel, then change its topic (any `/papers topic` edit there) to resume it.")
    return {"text": text, "blocks": [section(text)]}
