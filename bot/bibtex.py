"""BibTeX entries in arXiv's own style, for `/papers bib` and the BibTeX button, and which papers to cite.

    @misc{key, title={...}, author={A and B}, year={2025}, eprint={2503.14881}, archivePrefix={arXiv},
          primaryClass={cs.LG}, url={https://arxiv.org/abs/2503.14881}}

LaTeX-special characters in titles and names are escaped (titles may hold LaTeX math: `$...$` is kept as
written); keys are `<first author's surname><year><first title word>`, made unique with a, b, c….
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot import reading, saved
from db.records import PaperRecord

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
            "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
_MATH = re.compile(r"(?<!\\)\$[^$]+(?<!\\)\$")
_KEY_WORD = re.compile(r"[A-Za-z0-9]+")
_SKIP_TITLE_WORDS = {"a", "an", "the", "on", "of", "towards", "toward"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters outside `$…$` math (which stays as written)."""
    out, position = [], 0
    for math in _MATH.finditer(text):
        out.append("".join(_SPECIAL.get(c, c) for c in text[position:math.start()]))
        out.append(math.group(0))
        position = math.end()
    out.append("".join(_SPECIAL.get(c, c) for c in text[position:]))
    return " ".join("".join(out).split())


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = _KEY_WORD.findall(folded)
    return words[-1].lower() if words else ""


def base_key(paper: PaperRecord) -> str:
    surname = _ascii_word(paper.authors[0]) if paper.authors else "anon"
    title_words = [w.lower() for w in _KEY_WORD.findall(unicodedata.normalize("NFKD", paper.title)
                                                        .encode("ascii", "ignore").decode())]
    word = next((w for w in title_words if w not in _SKIP_TITLE_WORDS), "")
    return f"{surname or 'anon'}{paper.published.year}{word}"


def entry(paper: PaperRecord, key: str) -> str:
    fields = [
        ("title", latex_escape(paper.title)),
        ("author", " and ".join(latex_escape(a) for a in paper.authors)),
        ("year", str(paper.published.year)),
        ("eprint", paper.arxiv_id),
        ("archivePrefix", "arXiv"),
        ("primaryClass", paper.primary_category),
        ("url", f"https://arxiv.org/abs/{paper.arxiv_id}"),
    ]
    body = ",\n".join(f"      {name}={{{value}}}" for name, value in fields)
    return f"@misc{{{key},\n{body}\n}}"


def bibliography(papers: Sequence[PaperRecord]) -> str:
    """Entries for `papers` (each once), keys unique: a second `han2025sparse` becomes `han2025sparsea`."""
    seen: dict[str, int] = {}
    entries = []
    for paper in {p.arxiv_id: p for p in papers}.values():
        key = base_key(paper)
        count = seen.get(key, 0)
        seen[key] = count + 1
        entries.append(entry(paper, key + ("" if count == 0 else chr(ord("a") + count - 1))))
    return "\n\n".join(entries) + "\n"


MAX_PAPERS = 100


def papers_for_bib(factory, args: str, *, team_id: str, user_id: str, arxiv=None) -> list[PaperRecord]:
    """`/papers bib <id|url> [more…]`, `bib saved`, `bib history [N]`: the papers to cite, in that order."""
    words = (args or "").split()
    if not words:
        raise reading.ReadingError("Which papers? `/papers bib 2503.14881 hep-th/9901001`, `/papers bib saved` "
                                   "or `/papers bib history 20`.")
    if words[0].lower() == "saved":
        return [item.paper for item in saved.saved_list(factory, team_id=team_id, user_id=user_id,
                                                        limit=MAX_PAPERS).saved]
    if words[0].lower() == "history":
        count = reading.parse_history_count(" ".join(words[1:]))
        return [read.paper for read in reading.history(factory, team_id=team_id, user_id=user_id,
                                                       limit=count).reads]
    ids = [reading.parse_paper_ref(word) for word in words[:MAX_PAPERS]]
    return [reading._find_or_fetch(factory, arxiv_id, arxiv) for arxiv_id in dict.fromkeys(ids)]
