"""What the search index holds: its schema, its one analyzer, and a paper (or the index's own state) as a
tantivy document.

One combined field, `text`, ranks like the SQL path's `bm25(papers_fts, 5, 1, 2)`: the title is added five
times, the abstract once and the author names twice, so a title hit counts five abstract hits (FTS5
weights a column's term frequency the same way). Values of one field are kept apart by a position gap,
so a phrase never runs from the end of one copy into the next. `author` holds the names alone, for
`author:`; `cat` holds each category and its archive (`cs.lg` and `cs`), for `cat:`.

Query words go through the same analyzer as the documents (`analyze`): split on anything that is not a
letter or digit, lower-cased, accents folded, English (Snowball) stemming. Nothing is dropped, so a
quoted phrase with a stop word in it needs that word, as on SQLite.
"""

from __future__ import annotations

from dataclasses import dataclass

import tantivy

from db.search_feed import IndexRow

FORMAT = "tantivy-1"  # the index's folder under SEARCH_INDEX_DIR; a new schema gets a new name
TOKENIZER = "papers"
ID, TEXT, AUTHOR, CATEGORY, PUBLISHED = "id", "text", "author", "cat", "published"
TITLE_COPIES, ABSTRACT_COPIES, AUTHOR_COPIES = 5, 1, 2  # db.fts.SQLITE_BM25_WEIGHTS
# The index's own state lives in one document, committed with the papers it describes, so any process
# reading the index reads a watermark that matches what it searches. No arXiv id has a tilde.
META_ID = "~state"
META_CURSOR_REVISION, META_CURSOR_ID, META_NEWEST = "state_cursor_revision", "state_cursor_id", "state_newest"
META_PENDING = "state_pending"


@dataclass(frozen=True, order=True)
class Cursor:
    """Where the next read of changes starts: rows at or after (revision, paper id)."""

    revision: int
    paper_id: int


@dataclass(frozen=True)
class IndexState:
    cursor: Cursor
    newest: int  # the highest revision in the index; a store whose newest revision is higher is ahead of it
    pending: tuple[int, ...] = ()  # revisions below the cursor still being written when it passed them


def build_analyzer() -> tantivy.TextAnalyzer:
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field(ID, stored=True, tokenizer_name="raw", index_option="basic")
    builder.add_text_field(TEXT, tokenizer_name=TOKENIZER, index_option="position")
    builder.add_text_field(AUTHOR, tokenizer_name=TOKENIZER, index_option="position")
    builder.add_text_field(CATEGORY, tokenizer_name="raw", index_option="basic")
    builder.add_integer_field(PUBLISHED, indexed=True, fast=True)
    for name in (META_CURSOR_REVISION, META_CURSOR_ID, META_NEWEST, META_PENDING):
        builder.add_integer_field(name, stored=True)
    return builder.build()


def category_terms(categories: str) -> list[str]:
    """`cs.LG stat.ML` -> cs.lg, cs, stat.ml, stat: `cat:cs` is any cs.* (db.fts's archive rule)."""
    terms: dict[str, None] = {}
    for category in categories.lower().split():
        terms[category] = None
        terms[category.partition(".")[0]] = None
    return list(terms)


def paper_document(row: IndexRow) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text(ID, row.arxiv_id)
    for _ in range(TITLE_COPIES):
        doc.add_text(TEXT, row.title)
    for _ in range(ABSTRACT_COPIES):
        doc.add_text(TEXT, row.abstract)
    for _ in range(AUTHOR_COPIES):
        doc.add_text(TEXT, row.author_names)
    doc.add_text(AUTHOR, row.author_names)
    for term in category_terms(row.categories):
        doc.add_text(CATEGORY, term)
    doc.add_integer(PUBLISHED, epoch_seconds(row.published))
    return doc


def state_document(state: IndexState) -> tantivy.Document:
    doc = tantivy.Document()
    doc.add_text(ID, META_ID)
    doc.add_integer(META_CURSOR_REVISION, state.cursor.revision)
    doc.add_integer(META_CURSOR_ID, state.cursor.paper_id)
    doc.add_integer(META_NEWEST, state.newest)
    for revision in state.pending:
        doc.add_integer(META_PENDING, revision)
    return doc


def read_state(searcher: tantivy.Searcher, schema: tantivy.Schema) -> IndexState | None:
    """The state committed with what this searcher sees; None for an index never completely built."""
    hits = searcher.search(tantivy.Query.term_query(schema, ID, META_ID), 1, count=False).hits
    if not hits:
        return None
    doc = searcher.doc(hits[0][1])
    return IndexState(Cursor(doc.get_first(META_CURSOR_REVISION), doc.get_first(META_CURSOR_ID)),
                      doc.get_first(META_NEWEST), tuple(doc.get_all(META_PENDING)))


def epoch_seconds(moment) -> int:
    return int(moment.timestamp())
