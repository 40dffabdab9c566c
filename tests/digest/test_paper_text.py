"""What a reader sees of paper text: LaTeX becomes Unicode, arXiv's line breaks are joined, nothing is lost, and
withdrawn papers are recognised; snippets start at the sentence holding the match."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.paper_text import ELLIPSIS, is_withdrawn, join_lines, readable, snippet
from bot.topics import find_spans
from db.records import PaperRecord


@pytest.mark.parametrize(("raw", "shown"), [
    (r"$\mathcal{O}(n^2)$ memory", "𝒪(n^2) memory"),
    (r"\textbf{Sparse} attention with $\alpha$-entmax", "Sparse attention with α-entmax"),
    (r"a $3.5\times$ speedup", "a 3.5× speedup"),
    ("cuts memory by 50% and\nlatency by 20%", "cuts memory by 50% and latency by 20%"),
    (r"costs \$5 and 40% less", "costs $5 and 40% less"),
    ("a $5 bill and a plain $ sign", "a $5 bill and a plain $ sign"),
    (r"code at \url{https://github.com/x/y}", "code at https://github.com/x/y"),
    ("x < y and a > b", "x < y and a > b"),
])
def test_readable_turns_latex_into_text_and_keeps_everything_else(raw, shown):
    assert readable(raw) == shown


def test_readable_never_swallows_text_after_an_unbalanced_brace():
    text = r"We propose \textit{Foo, a method that cuts latency by half on every benchmark we tried"
    assert "every benchmark we tried" in readable(text)


@pytest.mark.parametrize("raw", ["\\", "\\ ", "{}", "$$"])
def test_readable_never_turns_text_into_nothing(raw):
    assert readable(raw)  # a title that is only LaTeX noise still shows as sent, never as an empty line


def test_join_lines_reflows_arxiv_hard_breaks():
    assert join_lines("Large language\n  models are\nbig.\n") == "Large language models are big."


def _paper(abstract: str, comment: str | None = None) -> PaperRecord:
    now = datetime(2025, 3, 20, tzinfo=UTC)
    return PaperRecord(arxiv_id="2503.00001", version=2, title="T", abstract=abstract, authors=("A",),
                       primary_category="cs.LG", categories=("cs.LG",), published=now, updated=now, comment=comment)


@pytest.mark.parametrize("paper", [
    _paper("This paper has been withdrawn by the author due to a crucial error in Theorem 2."),
    _paper("This submission has been withdrawn by arXiv administrators as it violates policy."),
    _paper("Some abstract text.", comment="This paper has been withdrawn"),
    _paper("Some abstract text.", comment="Withdrawn: duplicate of 2501.01234"),
])
def test_withdrawn_papers_are_recognised(paper):
    assert is_withdrawn(paper)


def test_a_paper_about_withdrawal_is_not_withdrawn():
    assert not is_withdrawn(_paper("We study withdrawn drugs and how patients respond after they are withdrawn."))


ABSTRACT = ("Large models are expensive. Serving them needs memory. We study the KV cache of long prompts. "
            "Our method evicts entries by attention score. It halves memory at equal accuracy. Code is public.")


def test_snippet_starts_near_the_first_match_and_marks_what_it_left_out():
    spans = find_spans(ABSTRACT, ["KV cache"])
    chosen = snippet(ABSTRACT, spans)
    assert "We study the KV cache of long prompts." in chosen.text
    assert chosen.text.startswith(ELLIPSIS) and chosen.text.endswith(ELLIPSIS)
    assert [chosen.text[s:e] for s, e in chosen.spans] == ["KV cache"]
    assert chosen.text.count(". ") <= 3


def test_snippet_without_a_match_is_the_opening_and_stays_within_its_budget():
    long = " ".join(f"Sentence number {i} says something about models." for i in range(40))
    chosen = snippet(long, (), max_chars=200)
    assert chosen.text.startswith("Sentence number 0")
    assert len(chosen.text) <= 200


def test_snippet_of_one_huge_sentence_is_cut_at_a_word():
    text = "word " * 400
    chosen = snippet(text.strip(), (), max_chars=120)
    assert len(chosen.text) <= 120 and chosen.text.endswith(ELLIPSIS)
