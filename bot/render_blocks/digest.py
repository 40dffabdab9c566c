"""Block Kit for the digest: the parent message that leads, the threaded replies that skim, the whole abstract on
demand, and the empty-day and arXiv-down notes.

The reader's attention is what these spend, so the parent names the day, what matched and the best papers (at most
10, already ranked by the digest's choose step), and says how many more wait in the thread. Each paper in the thread
is its linked title, three authors, date · category · version, the matched keywords and a snippet of two or three
sentences around the first match; **Abstract** shows the whole abstract to whoever clicks. Paper text is shown
readable (LaTeX as Unicode, bot.paper_text), escaped and inert (mrkdwn.escape_text), inside Slack's limits whatever
the papers hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime

from bot.digest_records import Digest, DigestEntry
from bot.paper_text import readable, snippet
from bot.render_blocks.common import (
    MARK_READ,
    MORE_LIKE_THIS,
    OPEN_PDF,
    SAVE_PAPER,
    SHOW_ABSTRACT,
    button,
    context,
    highlight_mrkdwn,
    paper_meta,
    section,
    title_link,
)
from bot.render_blocks.mrkdwn import (
    ELLIPSIS,
    MAX_FALLBACK_TEXT,
    MAX_HEADER_TEXT,
    MAX_SECTION_TEXT,
    entity_safe_prefix,
    escape,
    escape_text,
    truncate,
)
from bot.topics import Topic, find_spans
from db.records import PaperRecord

# Room under Slack's 3,000 so a cut never lands on the limit itself.
_SECTION_BUDGET = MAX_SECTION_TEXT - 100
PARENT_TOP = 10  # papers named in the parent; the rest wait in the thread
PAPERS_PER_REPLY = 8  # 3 blocks each (with the divider) stays far below Slack's 50 blocks a message
PARENT_BUDGET = 3000  # visible characters of the whole parent message
_PARENT_TITLE_CHARS = 110
_FALLBACK_TITLE_CHARS = 200


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def keyword_counts_mrkdwn(counts: Sequence[tuple[str, int]]) -> str:
    return " · ".join(f"{escape(keyword)} {count}" for keyword, count in counts)


def matched_mrkdwn(matched: Sequence[str]) -> str:
    return ", ".join(escape_text(k) for k in matched) or "—"


def _top_line(rank: int, entry: DigestEntry) -> str:
    title = title_link(entry.paper, limit=_PARENT_TITLE_CHARS, bold=False)
    return f"{rank}. {title} — _{matched_mrkdwn(entry.matched)}_"


def digest_parent_message(digest: Digest, *, papers_per_reply: int) -> dict:
    """Date, how many papers and what matched, the best papers by name, and how many more in the thread."""
    count = len(digest.entries)
    day = digest.digest_date.isoformat()
    counts = keyword_counts_mrkdwn(digest.keyword_counts())
    top = digest.entries[:PARENT_TOP]
    rest = count - len(top)
    follow = (f"*{rest} more in the thread*, best first. " if rest else "Every paper is in the thread. ")
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": truncate(f"arXiv digest · {day}", MAX_HEADER_TEXT),
                                    "emoji": True}},
        section(f"*{_plural(count, 'new paper')}* on this channel's topic · {counts or '—'}"),
        section("\n".join(_top_line(rank, entry) for rank, entry in enumerate(top, 1))),
        context(follow + "*Abstract* on a paper shows you the whole abstract; *Mark read* keeps your list."),
    ]
    fallback = f"arXiv digest {day}: {_plural(count, 'new paper')}" + (f" ({counts})" if counts else "")
    return {"text": truncate(fallback, MAX_FALLBACK_TEXT), "blocks": blocks}


def paper_snippet_mrkdwn(paper: PaperRecord, keywords: Sequence[str], *, limit: int = _SECTION_BUDGET) -> str:
    """Two or three sentences of the readable abstract around the first keyword, keywords bold."""
    abstract = readable(paper.abstract)
    chosen = snippet(abstract, find_spans(abstract, keywords))
    return highlight_mrkdwn(chosen.text, chosen.spans, limit=limit)


def paper_actions(paper: PaperRecord, *, block_id: str) -> dict:
    """Abstract (the whole of it, to the clicker only), Mark read, and PDF (a link; the click records an open)."""
    return {
        "type": "actions",
        "block_id": block_id[:255],
        "elements": [
            button("Abstract", SHOW_ABSTRACT, paper.arxiv_id),
            button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
            button("Save", SAVE_PAPER, paper.arxiv_id),
            button("PDF", OPEN_PDF, paper.arxiv_id, url=paper.pdf_link),
            button("More like this", MORE_LIKE_THIS, paper.arxiv_id),
        ],
    }


def paper_blocks(entry: DigestEntry, keywords: Sequence[str]) -> list[dict]:
    """One paper in the thread: title, who/when/version, what matched, a snippet; then its buttons."""
    paper = entry.paper
    head = f"{title_link(paper)}\n{paper_meta(paper)} · _{matched_mrkdwn(entry.matched)}_"
    body = paper_snippet_mrkdwn(paper, keywords, limit=_SECTION_BUDGET - min(len(head), _SECTION_BUDGET // 2))
    text = f"{head[: _SECTION_BUDGET // 2]}\n{body}" if body else head[:_SECTION_BUDGET]
    return [section(text), paper_actions(paper, block_id=f"digest:{paper.arxiv_id}")]


def digest_reply_message(entries: Sequence[DigestEntry], keywords: Sequence[str]) -> dict:
    """Several papers in one threaded reply (3 blocks each with the divider: 16 papers would still fit in 50)."""
    blocks: list[dict] = []
    for index, entry in enumerate(entries):
        if index:
            blocks.append({"type": "divider"})
        blocks.extend(paper_blocks(entry, keywords))
    titles = "; ".join(escape_text(truncate(readable(e.paper.title), _FALLBACK_TITLE_CHARS)) for e in entries)
    return {"text": truncate(titles, MAX_FALLBACK_TEXT), "blocks": blocks}


def digest_messages(digest: Digest) -> list[dict]:
    """Every message of a digest in posting order, the parent first: what `digest --dry-run --format slack` shows
    and what the run posts (it sends the same chunks, recording each)."""
    if not digest.entries:
        return [empty_digest_message(digest.digest_date)]
    entries = list(digest.entries)
    replies = [digest_reply_message(entries[i : i + PAPERS_PER_REPLY], digest.topic.keywords)
               for i in range(0, len(entries), PAPERS_PER_REPLY)]
    return [digest_parent_message(digest, papers_per_reply=PAPERS_PER_REPLY), *replies]


def abstract_message(paper: PaperRecord, keywords: Sequence[str] = (), *, read: bool = False) -> dict:
    """The whole abstract of one paper, for the person who clicked Abstract (an ephemeral reply)."""
    abstract = readable(paper.abstract)
    spans = find_spans(abstract, keywords)
    blocks = [section(f"{title_link(paper)}\n{paper_meta(paper)}")]
    # Escaping can grow text (`&` -> `&amp;`): an abstract that outgrows one section continues in the next.
    remaining, offset = abstract, 0
    while remaining and len(blocks) < 6:
        piece = _cut_piece(remaining)
        shifted = [(s - offset, e - offset) for s, e in spans if offset <= s and e <= offset + len(piece)]
        blocks.append(section(highlight_mrkdwn(piece, shifted, limit=_SECTION_BUDGET)))
        offset += len(piece)
        remaining = remaining[len(piece):]
    if not read:
        blocks.append({"type": "actions", "block_id": f"abstract:{paper.arxiv_id}"[:255], "elements": [
            button("Mark read", MARK_READ, paper.arxiv_id, style="primary"),
            button("PDF", OPEN_PDF, paper.arxiv_id, url=paper.pdf_link)]})
    return {"response_type": "ephemeral", "replace_original": False,
            "text": escape_text(truncate(readable(paper.title), _FALLBACK_TITLE_CHARS)), "blocks": blocks}


def _cut_piece(text: str) -> str:
    """As much of `text` as surely fits one section once escaped (each character grows at most five-fold)."""
    if len(escape_text(text)) <= _SECTION_BUDGET:
        return text
    size = _SECTION_BUDGET // 5
    while len(escape_text(text[: size * 2])) <= _SECTION_BUDGET and size * 2 < len(text):
        size *= 2
    cut = text[:size]
    space = cut.rfind(" ")
    return cut[: space + 1] if space > size // 2 else cut


def arxiv_unavailable_message(digest_date: date) -> dict:
    text = f"arXiv is unavailable right now; the digest for {digest_date.isoformat()} will follow."
    return {"text": text, "blocks": [section(text)]}


def empty_digest_message(digest_date: date) -> dict:
    text = f"arXiv digest · {digest_date.isoformat()}: no new papers on this channel's topic today."
    return {"text": text, "blocks": [section(text)]}


TOPIC_USAGE = (
    "`/papers topic` shows this channel's digest topic. To change it (and start a digest here):\n"
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

    origin = "this channel's topic" if source == "channel" else "the workspace default"
    posted = (f"Digests are posted here {escape(schedule)}." if is_digest_channel or source == "channel"
              else "No digest is posted to this channel yet: `/papers topic set …` here starts one.")
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
    # Slack users never see setting names: the editors are "the digest editors" the install names.
    editors_part = f" and the digest editors ({named})" if editors else ""
    joiner = "," if editors else " and"
    return _ephemeral(f"Sorry, only workspace admins and owners{joiner} {creator_part}{editors_part} can change "
                      "this channel's digest topic. Please ask one of them; `/papers topic` shows the current one.")


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
