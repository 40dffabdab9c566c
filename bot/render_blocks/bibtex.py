"""Block Kit for `/papers bib`: a short bibliography as an ephemeral code block, or a note that the .bib file went
to the user's DM."""

from __future__ import annotations

from bot.render_blocks.common import section

MAX_INLINE_CHARS = 2800  # a section holds 3,000 characters: the code fence and a little room


def fits_inline(bib: str) -> bool:
    return len(bib) <= MAX_INLINE_CHARS


def bib_message(bib: str) -> dict:
    # Inside a code block Slack shows text as written, but `&`, `<` and `>` must still be escaped.
    shown = bib.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("```", "'''")
    return {"response_type": "ephemeral", "text": "BibTeX", "blocks": [section(f"```{shown}```")]}


def bib_sent_message(count: int) -> dict:
    noun = "entry" if count == 1 else "entries"
    return {"response_type": "ephemeral", "text": f"{count} BibTeX {noun} are too long to show here: "
            "I sent them to you as a .bib file in our DM."}
