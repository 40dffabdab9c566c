"""Search results and Share with oversized, entity-heavy paper text: each section stays within Slack's
3,000 characters, though escaping grows every `&` five-fold (found by the hostile-content tests, fixed in
bot/render_blocks/search.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.render_blocks.search import results_message, shared_paper_message
from bot.search import ParsedQuery, SearchHit, SearchPage
from db.records import PaperRecord
from tests.fakes.slack_api import _limit_errors

WHEN = datetime(2025, 3, 20, tzinfo=UTC)
# arXiv allows this: a title and author names full of `&` (each becomes `&amp;`), a long abstract of them.
ENTITY_HEAVY = PaperRecord(
    arxiv_id="2511.00002", version=1, title="Sparse " + "&" * 400, abstract=("Sparse & pruning && more. " * 300),
    authors=tuple("&" * 100 for _ in range(5)), primary_category="cs.LG", categories=("cs.LG",),
    published=WHEN, updated=WHEN,
)


def test_sharing_an_entity_heavy_paper_stays_within_slacks_limits():
    message = shared_paper_message(ENTITY_HEAVY, shared_by="U0ALICE")
    assert _limit_errors(message, max_blocks=50) is None


def test_a_search_result_of_an_entity_heavy_paper_stays_within_slacks_limits():
    page = SearchPage(query=ParsedQuery(text="sparse"), total=1, offset=0,
                      hits=(SearchHit(paper=ENTITY_HEAVY, score=1.0, read=False),))
    assert _limit_errors(results_message(page), max_blocks=50) is None
