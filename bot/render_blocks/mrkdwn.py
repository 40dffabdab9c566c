"""mrkdwn escaping and Slack's Block Kit limits.

Slack parses `<…>` in mrkdwn as links and mentions (`<!channel>`, `<@U123>`, `<url|label>`), so every
piece of paper or user text goes through `escape` first. Abstracts contain `<` in math all the time.
Text Slack sends us (a slash command's `text`) arrives escaped the same way; `unescape` gives back what
the user typed, which is then escaped again like any other user text when it is shown.
"""

from __future__ import annotations

import re

MAX_BLOCKS_VIEW = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_FALLBACK_TEXT = 40_000
ELLIPSIS = "…"


# Characters Slack's mrkdwn reads as formatting (bold, italic, strike, code). Paper text cannot escape them in mrkdwn,
# so they are shown as look-alikes that never format: a title `Sparse *Attention*` keeps its asterisks.
_INERT = str.maketrans({"*": "\u2217", "_": "\u02cd", "~": "\u223c", "`": "\u02cb"})
_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>|<([^<>|]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
# Paper text is inert (no raw `*_~` left in it), so every one of these is our own formatting.
_FORMAT_MARK = re.compile(r"[*_~`]")


def inert(text: str) -> str:
    """Paper text whose `*`, `_`, `~` and backticks show as themselves instead of formatting the message."""
    return text.translate(_INERT)


def escape_text(text: str) -> str:
    """Paper text for mrkdwn: no live mentions or links (escape) and no accidental formatting (inert)."""
    return escape(inert(text))


def visible_text(mrkdwn: str) -> str:
    """Roughly what Slack shows for a mrkdwn string: link labels instead of links, entities decoded, our own
    bold/italic marks gone. For counting what a reader has to read, not for display."""
    shown = _LINK.sub(lambda m: m.group(2) if m.group(2) is not None else m.group(3).split("^")[-1], mrkdwn)
    shown = _FORMAT_MARK.sub("", shown)
    return _ENTITY.sub(lambda m: {"amp": "&", "lt": "<", "gt": ">"}[m.group(1)], shown)


def escape(text: str) -> str:
    """Escape the three characters Slack asks for; `&` first so the others are not double-escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """What the user typed, from Slack's escaped text; `&amp;` last so a typed `&lt;` stays `&lt;`."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def truncate(text: str, limit: int) -> str:
    """Cut plain text to `limit` characters, ending with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def entity_safe_prefix(escaped: str, length: int) -> str:
    """At most `length` characters of escaped text, never ending inside an `&amp;`-style entity."""
    cut = escaped[: max(length, 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut


def truncate_escaped(raw: str, limit: int) -> str:
    """Escape `raw` and cut it to `limit` characters without splitting an `&amp;`-style entity."""
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    return entity_safe_prefix(escaped, limit - 1).rstrip() + ELLIPSIS


def link(url: str, label: str) -> str:
    """A mrkdwn link whose label is escaped (a `|` or `>` in a title cannot break out) and inert."""
    return f"<{url}|{escape_text(label).replace('|', '¦')}>"
