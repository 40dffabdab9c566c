"""A parsed search (db.fts.FtsQuery) as a tantivy query with the same meaning as the SQL path's.

Every clause must match, a clause matching if any alternative does; a phrase is its words adjacent and
in order; `-` phrases, `author:` phrases (in the author names only), `cat:` (a category, or an archive
for all of its categories) and `since:` as in db/fts.py. Only the words rank: filters score nothing.
Papers to leave out (a user's read papers, for `unread`) are excluded inside the query, so the top k
and the count are taken after the filter and a page is always full.
"""

from __future__ import annotations

from collections.abc import Sequence

import tantivy

from bot.search_index.documents import AUTHOR, CATEGORY, ID, META_ID, PUBLISHED, TEXT, epoch_seconds
from db.fts import FtsQuery, Phrase

Occur = tantivy.Occur
Query = tantivy.Query


def compile_query(schema: tantivy.Schema, analyzer: tantivy.TextAnalyzer, query: FtsQuery, *,
                  leave_out: Sequence[str] = ()) -> tantivy.Query:
    def any_of(queries: list[tantivy.Query]) -> tantivy.Query:
        return queries[0] if len(queries) == 1 else Query.boolean_query([(Occur.Should, q) for q in queries])

    def phrase(field: str, words: Phrase) -> tantivy.Query:
        positions = [terms for word in words for terms in _word_terms(analyzer, word)]
        if not positions:
            return Query.empty_query()
        if len(positions) == 1:
            return any_of([Query.term_query(schema, field, term) for term in positions[0]])
        if all(len(terms) == 1 for terms in positions):
            return Query.phrase_query(schema, field, [terms[0] for terms in positions])
        # Terms are letters and digits only, so joining them with | is a safe regular expression.
        return Query.regex_phrase_query(schema, field, ["|".join(terms) for terms in positions])

    def unscored(filter_query: tantivy.Query) -> tantivy.Query:
        return Query.const_score_query(filter_query, 0.0)

    must = [any_of([phrase(TEXT, alternative) for alternative in clause]) for clause in query.all_of]
    must += [unscored(phrase(AUTHOR, author)) for author in query.authors]
    if query.categories:
        terms = [Query.term_query(schema, CATEGORY, category.lower()) for category in query.categories]
        must.append(unscored(any_of(terms)))
    if query.since is not None:
        since = Query.range_query(schema, PUBLISHED, tantivy.FieldType.Integer, lower_bound=epoch_seconds(query.since))
        must.append(unscored(since))
    if not must:
        must.append(Query.all_query())
    must_not = [phrase(TEXT, excluded) for excluded in query.none_of]
    must_not.append(Query.term_query(schema, ID, META_ID))
    if leave_out:
        must_not.append(Query.term_set_query(schema, ID, list(leave_out)))
    return Query.boolean_query([(Occur.Must, q) for q in must] + [(Occur.MustNot, q) for q in must_not])


def _word_terms(analyzer: tantivy.TextAnalyzer, word: str) -> list[list[str]]:
    """A query word's index terms, one list of alternatives per position.

    SQLite's porter stemmer drops any plural s (`llms` -> `llm`, `gpus` -> `gpu`); the index's Snowball
    stemmer keeps it after a word without another vowel, which is most acronyms. Searching the singular and
    the plural form of each word (`_number_twin`) keeps the index's matches equal to SQLite's.
    """
    tokens = analyzer.analyze(word)
    if len(tokens) != 1:
        return [[token] for token in tokens]
    alternatives = dict.fromkeys(tokens + (analyzer.analyze(other) if (other := _number_twin(word)) else []))
    return [list(alternatives)]


def _number_twin(word: str) -> str:
    """The plural of a singular word, the singular of a plural one, as SQLite's porter stemmer pairs them: it
    stems only tokens of 3 letters or more, so `ais` meets `ai` but `cs` never meets `c`. "" when there is none."""
    if word.endswith("s"):
        return word[:-1] if len(word) >= 3 and not word.endswith("ss") else ""
    return word + "s" if len(word) >= 2 else ""
