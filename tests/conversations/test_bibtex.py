"""`/papers bib`: BibTeX in arXiv's style for new- and old-style ids, LaTeX specials escaped, unique keys; a long
bibliography goes to the user's DM as a .bib file (files_upload_v2 on the fake Slack)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import saved, search
from bot.bibtex import bibliography, latex_escape
from bot.ingest import ingest_feed_file, ingest_records
from db.records import PaperRecord
from tests.conftest import SEED_FEED
from tests.conversations.test_saved import papers
from tests.fakes.slack_api import TEAM_ID

OLD = PaperRecord(arxiv_id="hep-th/9901001", version=1, title="Strings & 100% $\\alpha_1$ Branes_{x}",
                  abstract="Strings.", authors=("A. Physicist", "Bö Tensor"), primary_category="hep-th",
                  categories=("hep-th",), published=datetime(1999, 1, 4, tzinfo=UTC),
                  updated=datetime(1999, 1, 4, tzinfo=UTC))


@pytest.fixture
def server(slack_server, store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    ingest_records(store.session_factory, [OLD])
    return slack_server


def code_block(reply: dict) -> str:
    text = reply["blocks"][0]["text"]["text"]
    assert text.startswith("```") and text.endswith("```")
    return text.strip("`")


def test_bib_for_a_new_style_and_an_old_style_id(server, fake_slack):
    reply = papers(server, fake_slack, "bib 2503.14881 https://arxiv.org/abs/hep-th/9901001v1")
    assert reply["response_type"] == "ephemeral"
    bib = code_block(reply)
    assert bib.count("@misc{") == 2
    assert "eprint={2503.14881}" in bib and "eprint={hep-th/9901001}" in bib
    assert "archivePrefix={arXiv}" in bib and "primaryClass={hep-th}" in bib
    assert "url={https://arxiv.org/abs/hep-th/9901001}" in bib and "year={1999}" in bib
    assert "@misc{physicist1999strings," in bib
    assert r"title={Strings \&amp; 100\% $\alpha_1$ Branes\_\{x\}}" in bib  # Slack's own &amp; in the block
    assert "author={A. Physicist and Bö Tensor}" in bib


def test_latex_specials_are_escaped_outside_math_and_keys_are_unique():
    assert latex_escape("R&D_1 {x} #2 ~ ^ 5%") == r"R\&D\_1 \{x\} \#2 \textasciitilde{} \textasciicircum{} 5\%"
    twin = PaperRecord(**{**OLD.__dict__, "arxiv_id": "hep-th/9901002"})
    bib = bibliography([OLD, twin, OLD])
    assert bib.count("@misc{") == 2
    assert "@misc{physicist1999strings," in bib and "@misc{physicist1999stringsa," in bib


def test_bib_saved_and_a_long_bibliography_goes_to_the_dm_as_a_file(server, store, fake_slack):
    ids = [hit.paper.arxiv_id for hit in search.run_search(store.session_factory, query="cache", limit=20).hits]
    for arxiv_id in ids:
        saved.save_paper(store.session_factory, team_id=TEAM_ID, user_id="U0ALICE", arxiv_id=arxiv_id)
    reply = papers(server, fake_slack, "bib saved")
    assert "sent them to you as a .bib file" in reply["text"]
    [upload] = fake_slack.calls_to("file_upload")
    assert upload.args["content"].count("@misc{") == len(ids)
    [done] = fake_slack.calls_to("files.completeUploadExternal")
    assert done.args["channel_id"] == "D0U0ALICE"


def test_bib_of_nothing_says_how(server, fake_slack):
    assert "/papers bib saved" in papers(server, fake_slack, "bib")["text"]
    assert "not an arXiv id" in papers(server, fake_slack, "bib nonsense")["text"]
