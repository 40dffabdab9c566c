"""`/papers` search: parse the user's query (filters, phrases, exclusions, spelling variants) and run it.

Parsing is pure: any text (NFKC-folded first, so full-width `ｋｖ ｃａｃｈｅ` is `kv cache`) becomes a
`ParsedQuery` or a `BadQuery` whose message is ready to show (plain text; renderers escape it). Words are
split on anything that is not a letter or a digit, so `kv-cache`, `KV cache` and `kv_cache` are the same
query, and the database's stemmer (porter on SQLite, english on PostgreSQL) makes `prune`/`pruning` and
`quantized`/`quantization` meet. A small synonym table adds what stemming cannot: `kv` ↔ `key value`,
`llm` ↔ `large language model`, ...

The SQL lives in `db.fts`; this module only ever hands it words, never raw text.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot import search_index
from bot.arxiv_ids import parse_category
from db import papers as paper_store
from db.fts import FtsQuery, Phrase, search_papers_fts
from db.records import PaperRecord, SearchHit

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_TERMS = 24  # words, phrases and filters together; keeps every generated query small
MAX_PAGE = 100

# Abbreviations and their spelled-out forms: any member found in the query matches all of them.
SYNONYM_GROUPS: tuple[tuple[Phrase, ...], ...] = (
    (("kv",), ("key", "value")),
    (("llm",), ("llms",), ("large", "language", "model"), ("large", "language", "models")),
    (("vlm",), ("vlms",), ("vision", "language", "model"), ("vision", "language", "models")),
    (("mllm",), ("mllms",), ("multimodal", "large", "language", "model"),
     ("multimodal", "large", "language", "models")),
    (("moe",), ("mixture", "of", "experts")),
    (("rag",), ("retrieval", "augmented", "generation")),
    (("lora",), ("low", "rank", "adaptation")),
    (("gnn",), ("gnns",), ("graph", "neural", "network"), ("graph", "neural", "networks")),
    (("ssm",), ("ssms",), ("state", "space", "model"), ("state", "space", "models")),
    (("rl",), ("reinforcement", "learning")),
)
# Words users glue together that papers write apart.
SPLIT_WORDS: dict[str, Phrase] = {"kvcache": ("kv", "cache"), "kvcaches": ("kv", "caches")}

# PostgreSQL's english configuration drops these; dropping them here too keeps both databases equal.
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can cannot could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other ought our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why will with would you your
    yours yourself yourselves s t don""".split()  # noqa: SIM905 - a word list reads better as text
)

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'(?P<neg>-)?(?:(?P<key>[A-Za-z]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<bare>\S+))')
_MENTION = re.compile(r"<[!@#][^>]*>|(?<![\w@])@(?:channel|here|everyone)\b", re.IGNORECASE)
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_BRITISH = re.compile(r"^(\w{3,})is(e|ed|es|ing|ation|ations|er|ers)$")


class SearchError(Exception):
    """Something to tell the user in one short sentence (plain text; may hold their input)."""


class BadQuery(SearchError):
    pass


class SearchUnavailable(SearchError):
    pass


@dataclass(frozen=True)
class ParsedQuery:
    clauses: tuple[tuple[Phrase, ...], ...] = ()  # each must match; a clause matches if any alternative does
    excluded: tuple[Phrase, ...] = ()
    authors: tuple[Phrase, ...] = ()
    categories: tuple[str, ...] = ()
    since: date | None = None
    unread: bool = False
    text: str = ""  # the query as understood, whitespace normalised (for display and the More button)

    @property
    def highlight_terms(self) -> tuple[str, ...]:
        """What to bold in abstracts: every wanted word, phrase and variant (not the excluded ones)."""
        terms = [" ".join(alt) for clause in self.clauses for alt in clause]
        return tuple(dict.fromkeys(terms))

    def to_fts(self) -> FtsQuery:
        since = datetime(self.since.year, self.since.month, self.since.day, tzinfo=UTC) if self.since else None
        return FtsQuery(all_of=self.clauses, none_of=self.excluded, authors=self.authors,
                        categories=self.categories, since=since)


@dataclass(frozen=True)
class SearchPage:
    query: ParsedQuery
    total: int
    offset: int
    hits: tuple[SearchHit, ...] = field(default_factory=tuple)

    @property
    def next_offset(self) -> int | None:
        following = self.offset + len(self.hits)
        return following if self.hits and following < self.total else None


# -- parsing ----------------------------------------------------------------------------------------


def words_of(text: str) -> Phrase:
    return tuple(_WORD.findall(text.lower()))


def _check_characters(text: str) -> str:
    cleaned = []
    for char in text:
        if char in "\t\n\r":
            cleaned.append(" ")
            continue
        kind = unicodedata.category(char)
        if kind in ("Cc", "Cs"):
            raise BadQuery("Your query has control characters in it; type it as plain words.")
        if kind == "Cf":  # zero-width joiners and direction marks: invisible, drop them
            continue
        cleaned.append(char)
    return "".join(cleaned)


def _british_variant(word: str) -> str | None:
    match = _BRITISH.match(word)
    return f"{match[1]}iz{match[2]}" if match else None


def _group_words(words: list[str]) -> list[tuple[Phrase, ...]]:
    """Turn free words into clauses, replacing any synonym-table phrase by all its forms."""
    expanded: list[str] = []
    for word in words:
        expanded.extend(SPLIT_WORDS.get(word, (word,)))
    clauses: list[tuple[Phrase, ...]] = []
    index = 0
    while index < len(expanded):
        best: tuple[int, tuple[Phrase, ...]] | None = None
        for group in SYNONYM_GROUPS:
            for member in group:
                size = len(member)
                if tuple(expanded[index : index + size]) == member and (best is None or size > best[0]):
                    best = (size, group)
        if best is not None:
            clauses.append(best[1])
            index += best[0]
            continue
        word = expanded[index]
        index += 1
        if word in STOPWORDS:
            continue
        variant = _british_variant(word)
        clauses.append(((word,), (variant,)) if variant else ((word,),))
    return list(dict.fromkeys(clauses))


def _clean(text: object) -> str:
    """The query text checked and normalised (quotes, whitespace), or BadQuery."""
    if not isinstance(text, str):
        raise BadQuery("Type some words to search for.")
    # NFKC folds what other keyboards and fonts type into the plain forms the index holds: full-width
    # `ｋｖ ｃａｃｈｅ`, `ＫＶ－ｃａｃｈｅ`, ligatures (`ﬁ`), superscripts. It can lengthen text, so both lengths count.
    folded = unicodedata.normalize("NFKC", text) if len(text) <= MAX_QUERY_CHARS else text
    if max(len(text), len(folded)) > MAX_QUERY_CHARS:
        raise BadQuery(f"That query is {len(text)} characters long; please keep it under {MAX_QUERY_CHARS}.")
    text = _check_characters(folded).translate(_QUOTES)
    if _MENTION.search(text):
        raise BadQuery("Mentions (like @channel or @someone) can't be searched; use words from the paper.")
    text = " ".join(text.split())
    if not text:
        raise BadQuery("Type some words to search for, e.g. `kv cache` or `author:Hinton`.")
    return text


@dataclass
class _Terms:
    """What the tokens of one query asked for, gathered while reading them."""

    free: list[str] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    hyphenated: list[Phrase] = field(default_factory=list)  # `low-bit`: its words together, never far apart
    excluded: list[Phrase] = field(default_factory=list)
    authors: list[Phrase] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    since: date | None = None
    unread: bool = False

    def add_filter(self, key: str, value: str) -> None:
        if key == "author":
            name = words_of(value)
            if not name:
                raise BadQuery("`author:` needs a name, e.g. `author:Hinton` or `author:\"Song Han\"`.")
            self.authors.append(name)
        elif key in ("cat", "category"):
            category = parse_category(value)
            if category is None:
                raise BadQuery("`cat:` needs an arXiv category, e.g. `cat:cs.CL` or `cat:cs`.")
            self.categories.append(category)
        elif key == "since":
            try:
                self.since = date.fromisoformat(value)
            except ValueError:
                raise BadQuery("`since:` needs a date like `since:2025-03-01`.") from None
        elif key == "is" and value.lower() == "unread":
            self.unread = True
        else:
            raise BadQuery(f"Unknown filter `{key}:`. Filters are author:, cat:, since: and unread.")

    def add_token(self, token: re.Match[str]) -> None:
        negative = bool(token["neg"])
        key = (token["key"] or "").lower()
        quoted = token["quoted"] is not None
        value = token["quoted"] if quoted else (token["bare"] or "")
        if key in ("http", "https"):  # a pasted link: search its words
            key, value = "", token[0].lstrip("-")
        if key:
            if negative:
                raise BadQuery(f"`-{key}:` isn't supported; exclusions work on words, like `-survey`.")
            self.add_filter(key, value)
        elif not quoted and value.lower() == "unread" and not negative:
            self.unread = True
        elif words := words_of(value):
            if negative:
                self.excluded.append(words)
            elif quoted:
                self.phrases.append(words)
            elif len(words) > 1 and _HYPHENATED.search(value):
                self.hyphenated.append(words)
            else:
                self.free.extend(words)


_HYPHENATED = re.compile(r"[^\W_]-[^\W_]")
MAX_ALTERNATIVES = 8


def hyphenated_clause(words: Phrase) -> tuple[Phrase, ...]:
    """`low-bit` -> the phrase `low bit` (which the index also finds as "low-bit") or the glued `lowbit`, never its
    words far apart; `kv-cache` -> `kv cache`, `key value cache` or `kvcache` (synonyms apply inside the phrase)."""
    if any(word in STOPWORDS for word in words):  # `state-of-the-art`: as written, stop words and all
        forms: list[Phrase] = [words]
    else:
        forms = [()]
        for alternatives in _group_words(list(words)):
            forms = [form + alt for form in forms for alt in alternatives][:MAX_ALTERNATIVES]
    glued = [("".join(form),) for form in forms if len(form) > 1]
    return tuple(dict.fromkeys([*forms, *glued]))[:MAX_ALTERNATIVES]


def parse_query(text: str) -> ParsedQuery:
    """Any text -> a ParsedQuery, or BadQuery with a message for the user. Never another exception."""
    text = _clean(text)
    terms = _Terms()
    for token in _TOKEN.finditer(text):
        terms.add_token(token)

    clauses = _group_words(terms.free)
    clauses.extend(hyphenated_clause(words) for words in terms.hyphenated)
    clauses.extend((p,) for p in terms.phrases if not all(w in STOPWORDS for w in p))
    clauses = list(dict.fromkeys(clauses))
    excluded = [p for p in dict.fromkeys(terms.excluded) if not all(w in STOPWORDS for w in p)]
    if len(clauses) + len(excluded) + len(terms.authors) + len(terms.categories) > MAX_TERMS:
        raise BadQuery(f"That's too many words and filters; use at most {MAX_TERMS}.")
    if not (clauses or terms.authors or terms.categories or terms.since or terms.unread):
        if excluded:
            raise BadQuery("Say what to look for, not only what to leave out, e.g. `pruning -survey`.")
        if terms.free or terms.phrases or terms.hyphenated:
            raise BadQuery("Those words are too common to search for; add a more specific one.")
        raise BadQuery("There are no words to search for in that; try e.g. `kv cache` or `author:Hinton`.")
    return ParsedQuery(
        clauses=tuple(clauses), excluded=tuple(excluded), authors=tuple(terms.authors),
        categories=tuple(terms.categories), since=terms.since, unread=terms.unread, text=text,
    )


# -- searching ----------------------------------------------------------------------------------------


def search_papers(session: Session, *, query: str, limit: int, offset: int = 0, team_id: str | None = None,
                  user_id: str | None = None) -> SearchPage:
    """The matching papers best first, with the total; raises BadQuery for a query that cannot run.

    With a user, each hit says whether they read it, and `unread` in the query hides those papers.
    """
    return _search_parsed(session, parse_query(query), limit=limit, offset=offset, team_id=team_id, user_id=user_id)


def _search_parsed(session: Session, parsed: ParsedQuery, *, limit: int, offset: int, team_id: str | None,
                   user_id: str | None) -> SearchPage:
    limit = max(0, min(limit, MAX_PAGE))
    offset = max(0, offset)
    reader = (team_id, user_id) if team_id and user_id else None
    query, unread_only = parsed.to_fts(), parsed.unread and reader is not None
    # SEARCH_ENGINE=index: the derived index answers when it is current; otherwise (and with =sql) SQL does.
    index = search_index.index_for(session.get_bind())
    page = index.search(session, query=query, limit=limit, offset=offset, reader=reader,
                        unread_only=unread_only) if index is not None else None
    if page is None:
        page = search_papers_fts(session, query=query, limit=limit, offset=offset, reader=reader,
                                 unread_only=unread_only)
    return SearchPage(query=parsed, total=page.total, offset=offset, hits=page.hits)


def run_search(factory: sessionmaker[Session], *, query: str, limit: int, offset: int = 0,
               team_id: str | None = None, user_id: str | None = None) -> SearchPage:
    """`search_papers` in its own session; a database failure becomes SearchUnavailable."""
    parsed = parse_query(query)  # a bad query never opens a session
    try:
        with factory.begin() as session:
            return _search_parsed(session, parsed, limit=limit, offset=offset, team_id=team_id, user_id=user_id)
    except SQLAlchemyError:
        log.exception("database error while searching")
        raise SearchUnavailable("Sorry, search is unavailable just now. Please try again in a moment.") from None


def find_paper(factory: sessionmaker[Session], *, arxiv_id: str) -> PaperRecord | None:
    """One stored paper by version-less id (Share posts it)."""
    try:
        with factory.begin() as session:
            return paper_store.get_paper(session, arxiv_id)
    except SQLAlchemyError:
        log.exception("database error while loading a paper")
        raise SearchUnavailable("Sorry, I couldn't load that paper just now. Please try again.") from None
