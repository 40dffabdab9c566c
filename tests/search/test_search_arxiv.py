"""Search arXiv: `/papers` with fewer than 3 local results offers a button; a click asks arXiv (the fake, which
reads arXiv's query syntax and refuses what arXiv could not parse), stores the hits through the normal ingest
path and shows them in place of the results. Through the real HTTP server and Bolt, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import date

import pytest
from sqlalchemy import func, select

from bot.app import Services, build_arxiv_source
from bot.arxiv_search import arxiv_query
from bot.ingest import ingest_feed_file
from bot.render_blocks.common import MARK_READ, SEARCH_ARXIV, SEARCH_MORE
from bot.search import parse_query
from db.models import Paper
from handlers.arxiv_lookups import WORKERS as ARXIV_LOOKUP_WORKERS
from tests.conftest import SEED_FEED, serve_bolt
from tests.fakes.arxiv_api import FakeArxiv, load_entries, make_entry
from tests.search.test_commands_e2e import all_text, buttons, reply_to
from tests.slack_requests import block_actions_body, post

ZEBRAFISH = [
    make_entry("2406.00001", title="Zebrafish larvae as a model of sparse neural coding",
               abstract="We study zebrafish larvae and their sparse neural activity.", authors=("Ada Lovelace",),
               categories=("q-bio.NC",), published="2024-06-01T12:00:00Z"),
    make_entry("2406.00002", title="Pruning networks inspired by zebrafish regeneration",
               abstract="Zebrafish regrow fins; we prune and regrow neural network weights.",
               authors=("Grace Hopper", "Alan Turing"), categories=("cs.LG", "q-bio.NC"),
               published="2024-06-02T12:00:00Z"),
    make_entry("2406.00003", title="A survey of zebrafish imaging",
               abstract="A survey of light-sheet imaging of zebrafish.", authors=("Rosalind Franklin",),
               categories=("q-bio.QM",), published="2023-01-05T12:00:00Z"),
]
PIXART = make_entry("2406.00004", title="PixArt sampling at low bit width",
                    abstract="PixArt diffusion transformers sampled with four-bit weights.", categories=("cs.CV",))


@pytest.fixture
def arxiv():
    fake = FakeArxiv(entries=[*load_entries(), *ZEBRAFISH, PIXART], match_queries=True).start()
    yield fake
    fake.release()
    fake.stop()


@pytest.fixture
def server(slack_settings, store, listener_work, arxiv):
    """The real server whose arXiv client talks to the fake (paced, with one retry), the seed stored locally."""
    ingest_feed_file(store.session_factory, SEED_FEED)
    settings = dataclasses.replace(slack_settings, arxiv_api_url=arxiv.url, arxiv_delay_seconds=0.01,
                                   arxiv_max_retries=1, arxiv_timeout_seconds=6)
    services = Services(settings=settings, store=store, arxiv=build_arxiv_source(settings, store=store))
    with serve_bolt(services, listener_work) as (url, _):
        yield url


def arxiv_button_value(message: dict) -> str | None:
    found = buttons(message, SEARCH_ARXIV)
    return found[0]["value"] if found else None


def click_body(fake_slack, value: str, *, key: str = "click", user_id: str = "U0ALICE") -> str:
    action = {"type": "button", "action_id": SEARCH_ARXIV, "value": value,
              "text": {"type": "plain_text", "text": "Search arXiv"}}
    container = {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C0DIGEST", "is_ephemeral": True}
    return block_actions_body(action, user_id=user_id, response_url=fake_slack.response_url(key), container=container)


def click_search_arxiv(server, fake_slack, value: str, **kwargs) -> list[dict]:
    """Click Search arXiv; returns what the clicker then sees: "searching…", then the outcome."""
    before = len(fake_slack.calls_to("response_url"))
    response = post(f"{server}/slack/events", click_body(fake_slack, value, **kwargs))
    assert response.status_code == 200
    calls = fake_slack.wait_for("response_url", before + 2, timeout=15)
    return [call.args for call in calls[before:]]


def paper_count(store) -> int:
    with store.session_factory.begin() as session:
        return session.scalar(select(func.count()).select_from(Paper))


def test_the_button_appears_only_below_three_local_results(server, fake_slack, arxiv):
    assert arxiv_button_value(reply_to(server, fake_slack, "kv cache", key="a")) is None  # 9 results
    none_here = reply_to(server, fake_slack, "zebrafish", key="b")
    assert none_here["text"].startswith("No papers match")
    assert json.loads(arxiv_button_value(none_here)) == {"q": "zebrafish"}
    one_here = reply_to(server, fake_slack, "pixart", key="c")
    assert one_here["text"].startswith("1 paper matches") and arxiv_button_value(one_here) is not None
    two_here = reply_to(server, fake_slack, "author:Niu", key="d")
    assert two_here["text"].startswith("2 papers match") and arxiv_button_value(two_here) is not None
    # Only words, authors or categories can be asked of arXiv; an id shows its paper, with nothing to search.
    assert arxiv_button_value(reply_to(server, fake_slack, "since:2030-01-01", key="e")) is None
    assert arxiv_button_value(reply_to(server, fake_slack, "2503.15465", key="f")) is None
    many = reply_to(server, fake_slack, "pruning", key="g")
    assert buttons(many, SEARCH_MORE) and arxiv_button_value(many) is None
    assert not arxiv.requests_started  # offering the button asks arXiv nothing


def test_a_click_stores_and_shows_arxivs_hits_and_a_later_search_finds_them_here(server, fake_slack, arxiv, store):
    value = arxiv_button_value(reply_to(server, fake_slack, "zebrafish", key="first"))
    stored_before = paper_count(store)
    arxiv.faults = ["hold"]  # arXiv has not answered yet: the click is still acked within Slack's 3 s
    began = time.monotonic()
    response = post(f"{server}/slack/events", click_body(fake_slack, value))
    assert response.status_code == 200 and time.monotonic() - began < 3
    [searching] = [c.args for c in fake_slack.wait_for("response_url", 2, timeout=15)[1:]]  # while arXiv is held
    assert arxiv.held.wait(15) and not arxiv.requests  # the request is in flight, unanswered
    arxiv.release()
    shown = fake_slack.wait_for("response_url", 3, timeout=15)[2].args
    assert searching["replace_original"] is True and searching["text"].startswith("Searching arXiv for `zebrafish`")
    assert shown["replace_original"] is True
    assert shown["text"] == "3 papers match zebrafish on arXiv"
    assert "3 new papers stored" in all_text(shown)
    assert {b["value"] for b in buttons(shown, MARK_READ)} == {"2406.00001", "2406.00002", "2406.00003"}
    assert "Zebrafish larvae as a model of sparse neural coding" in all_text(shown)
    [request] = arxiv.requests
    assert request.params["search_query"] == 'all:"zebrafish"' and request.params["max_results"] == "10"
    assert paper_count(store) == stored_before + 3
    later = reply_to(server, fake_slack, "zebrafish", key="later")
    assert later["text"].startswith("3 papers match") and arxiv_button_value(later) is None
    assert len(arxiv.requests) == 1  # found here now: arXiv is not asked again


def test_papers_already_stored_are_not_counted_as_new(server, fake_slack, arxiv):
    value = arxiv_button_value(reply_to(server, fake_slack, "pixart", key="p"))
    _, shown = click_search_arxiv(server, fake_slack, value)
    assert shown["text"] == "2 papers match pixart on arXiv"
    assert "1 new paper stored" in all_text(shown)


def test_the_query_syntax_becomes_arxivs_and_since_filters_the_hits(server, fake_slack, arxiv):
    text = 'zebrafish -"light sheet" author:"Grace Hopper" cat:q-bio since:2024-06-02'
    _, shown = click_search_arxiv(server, fake_slack, json.dumps({"q": text}))
    [request] = arxiv.requests
    query = request.params["search_query"]
    assert query.startswith('(all:"zebrafish" AND au:"grace hopper" AND cat:q-bio.* AND '
                            'submittedDate:[202406020000 TO ')
    assert query.endswith(') ANDNOT all:"light sheet"')
    assert [b["value"] for b in buttons(shown, MARK_READ)] == ["2406.00002"]


def test_words_phrases_synonyms_and_ids_in_arxivs_syntax():
    assert arxiv_query(parse_query('kv cache "speculative decoding" -survey cat:cs.CL author:Han')) == (
        '((all:"kv" OR all:"key value") AND all:"cache" AND all:"speculative decoding" AND au:"han" AND cat:cs.CL)'
        ' ANDNOT all:"survey"')
    assert arxiv_query(parse_query("optimise")) == '(all:"optimise" OR all:"optimize")'
    assert arxiv_query(parse_query("since:2025-01-01 unread")) is None
    since = arxiv_query(parse_query("llm since:2025-03-01"))
    assert f"submittedDate:[202503010000 TO {date.today():%Y}" in since


def test_zero_hits_on_arxiv_says_so(server, fake_slack, arxiv):
    _, shown = click_search_arxiv(server, fake_slack, json.dumps({"q": "quokka hematology"}))
    assert shown["text"].startswith("arXiv has no papers matching `quokka hematology` either")
    assert len(arxiv.requests) == 1


@pytest.mark.parametrize("faults", [["503", "503"], ["429:0", "500"], ["short:1", "short:1"],
                                    ["cut-abstract:1:20", "html"]])
def test_arxiv_failing_says_so_stores_nothing_and_keeps_the_button(server, fake_slack, arxiv, store, faults,
                                                                     caplog):
    before = paper_count(store)
    arxiv.faults = list(faults)
    value = json.dumps({"q": "zebrafish"})
    searching, failed = click_search_arxiv(server, fake_slack, value, key="f1")
    assert searching["text"].startswith("Searching arXiv")
    assert failed["text"] == ("arXiv isn't answering just now; nothing was stored. "
                              "Try Search arXiv again in a few minutes.")
    assert failed["replace_original"] is True and "Traceback" not in all_text(failed)
    assert paper_count(store) == before and len(arxiv.requests) == 2  # tried twice, stored nothing
    _, shown = click_search_arxiv(server, fake_slack, arxiv_button_value(failed), key="f2")  # Try arXiv again
    assert shown["text"] == "3 papers match zebrafish on arXiv" and paper_count(store) == before + 3


def test_a_double_click_asks_arxiv_once(server, fake_slack, arxiv, listener_work):
    arxiv.faults = ["hold"]  # the first search is in flight while the second click comes
    value = json.dumps({"q": "zebrafish"})
    first = post(f"{server}/slack/events", click_body(fake_slack, value, key="d1"))
    second = post(f"{server}/slack/events", click_body(fake_slack, value, key="d2"))  # its own action_ts
    assert first.status_code == second.status_code == 200
    assert arxiv.held.wait(15) and listener_work.wait_idle()
    arxiv.release()
    fake_slack.wait_for("response_url", 2, timeout=15)
    # Another user asking the same thing is not a double click. The lookup pool runs one search at a time, in
    # the order they came, so once Bob's has run, a wrongly queued second search of Alice's has run too.
    assert ARXIV_LOOKUP_WORKERS == 1
    click_search_arxiv(server, fake_slack, value, key="d3", user_id="U0BOB")
    assert arxiv.requests_started == 2
    keys = [c.path.rsplit("/", 1)[-1] for c in fake_slack.calls_to("response_url")]
    keys = [key for key in keys if key != "d3"]
    assert len(keys) == 2 and len(set(keys)) == 1  # one click ran ("searching", then the hits); the other did nothing


def test_a_replayed_click_is_dropped(server, fake_slack, arxiv, listener_work):
    body = click_body(fake_slack, json.dumps({"q": "zebrafish"}))
    assert post(f"{server}/slack/events", body).status_code == 200
    fake_slack.wait_for("response_url", 2, timeout=15)
    assert post(f"{server}/slack/events", body).status_code == 200  # the same bytes again
    assert listener_work.wait_idle()
    time.sleep(0.3)
    assert len(fake_slack.calls_to("response_url")) == 2 and arxiv.requests_started == 1


HOSTILE = [
    'zebrafish") OR (cat:* OR all:"',
    "zebrafish AND (larvae OR",
    "zebrafish andnot larvae",
    '"zebrafish) ANDNOT (all:x"',
    "<script>zebrafish</script> <!channel>",
    'author:"Ada) OR au:(*" zebrafish',
    "zebrafish " + "ti:x " * 3,
    "zebrafish\u201d OR \u201call:*",
    "z" * 480 + " zebrafish",
    "x" * 600,
    "the of and",
    "\x00zebrafish",
    "cat:*",
    "submittedDate:[* TO *]",
    "<https://arxiv.org/abs/2406.00002|link>",
    "2406.00002",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_query_text_never_breaks_or_reaches_arxivs_syntax(server, fake_slack, arxiv, text):
    before = len(fake_slack.calls_to("response_url"))
    response = post(f"{server}/slack/events", click_body(fake_slack, json.dumps({"q": text})))
    assert response.status_code == 200
    calls = fake_slack.wait_for("response_url", before + 2, timeout=15)[before:]
    assert calls, "the clicker was told nothing"
    final = calls[-1].args
    assert final["response_type"] == "ephemeral" and len(final["text"]) < 400
    assert "Traceback" not in all_text(final) and "wrong on my side" not in final["text"]
    assert not fake_slack.live_markup()
    for request in arxiv.requests:  # the fake answers 400 to what arXiv could not parse
        assert request.status == 200, request.params
        query = request.params.get("search_query", "")
        assert "*" not in query.replace("cat:q-bio.*", "") and "ti:" not in query
    if "2406.00002" in text:
        assert [b["value"] for b in buttons(final, MARK_READ)] == ["2406.00002"]
        assert arxiv.requests[-1].params["id_list"] == "2406.00002"
