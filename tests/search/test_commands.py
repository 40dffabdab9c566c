"""The `/papers` router's rules and the search reply's Block Kit limits (pure; no server)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from importlib.metadata import version as package_version

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.render_blocks import search as views
from bot.render_blocks.mrkdwn import MAX_BUTTON_VALUE, escape, unescape
from bot.search import SearchHit, SearchPage, parse_query
from db.records import PaperRecord
from handlers.commands import SUBCOMMANDS, papers_reply, route
from tests.fakes.slack_api import _limit_errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ("help", "")),
        ("  help ", ("help", "")),
        ("HELP", ("help", "")),
        ("topic", ("topic", "")),
        ("read 2503.14881", ("read", "2503.14881")),
        ("unread https://arxiv.org/abs/2503.14881v2", ("unread", "https://arxiv.org/abs/2503.14881v2")),
        ("unread", ("unread", "")),
        ("unread kv cache", ("search", "unread kv cache")),  # `unread` as the search filter
        ("history 20", ("history", "20")),
        ("search topic models", ("search", "topic models")),
        ("kv cache", ("search", "kv cache")),
        ("head pruning", ("search", "head pruning")),  # one typo from `read`, but followed by words
        ("histroy", ("unknown", "histroy")),
        ("topics", ("unknown", "topics")),
        ("raed 2503.14881", ("unknown", "raed")),
        ("--help", ("help", "")),
        ("--config x", ("unknown", "--config")),
        ("/papers kv", ("unknown", "/papers")),
        ("hepl", ("unknown", "hepl")),
        ("?", ("help", "")),
        # whole words that are searches stay searches, even when close to a command name
        ("research", ("search", "research")),
        ("vision", ("search", "vision")),
        ("reading list", ("search", "reading list")),
        ("histo", ("search", "histo")),
        ("rag", ("search", "rag")),
        ("hepl 2503.14881", ("search", "hepl 2503.14881")),  # `help` takes no paper
        ("raed https://arxiv.org/abs/2503.14881", ("unknown", "raed")),
    ],
)
def test_router_rules(text, expected):
    assert route(text) == expected


@pytest.mark.parametrize(("typed", "suggested"), [("hepl", "help"), ("topics", "topic"), ("histroy", "history"),
                                                  ("raed", "read"), ("unraed", "unread"), ("/help", "help"),
                                                  ("--topic", "topic"), ("--config", None)])
def test_an_unknown_command_gets_the_registry_name_it_is_closest_to(typed, suggested):
    reply = papers_reply(None, {"text": typed})
    assert "don't know the command" in reply["text"]
    if suggested:
        assert f"Did you mean `/papers {suggested}`?" in reply["text"]
    else:
        assert "Did you mean" not in reply["text"]


def test_version_answers_the_installed_package_version():
    assert route("version") == ("version", "")
    assert route("versoin") == ("unknown", "versoin")
    assert papers_reply(None, {"text": "version"}) == {"response_type": "ephemeral",
                                                       "text": f"papers-bot {package_version('papers-bot')}"}
    assert "`/papers version`" in papers_reply(None, {"text": "help"})["blocks"][0]["text"]["text"]


def test_help_lists_every_subcommand_of_the_registry():
    reply = papers_reply(None, {"text": "help"})
    usage = reply["blocks"][0]["text"]["text"]
    assert [entry.help for entry in SUBCOMMANDS if entry.help in usage] == [entry.help for entry in SUBCOMMANDS]
    assert all(entry.name in reply["text"] for entry in SUBCOMMANDS)
    assert "author:NAME" in usage


def _paper(n: int, **over) -> PaperRecord:
    values = dict(
        arxiv_id=f"2503.{10000 + n}", version=1, title=f"Paper {n} on KV cache", abstract="A sentence. " * 200,
        authors=tuple(f"Author {i}" for i in range(120)), primary_category="cs.LG", categories=("cs.LG",),
        published=datetime(2025, 3, 1, tzinfo=UTC), updated=datetime(2025, 3, 1, tzinfo=UTC),
    )
    values.update(over)
    return PaperRecord(**values)


def test_results_and_share_stay_within_slack_limits_with_huge_entity_heavy_papers():
    query = parse_query('"' + "kv cache " * 50 + '"')
    hits = tuple(SearchHit(paper=_paper(n, title="<!channel> " + "&" * 2000, abstract="x<y & " * 2000,
                                        authors=tuple("&" * 100 for _ in range(5))),
                           score=1.0, read=n % 2 == 0) for n in range(5))
    message = views.results_message(SearchPage(query=query, total=40, offset=0, hits=hits))
    shared = views.shared_paper_message(hits[0].paper, shared_by="U0ALICE")
    # Escaping grows every `&` five-fold; Slack (the fake's checker) still takes both.
    assert _limit_errors(message, max_blocks=50) is None and _limit_errors(shared, max_blocks=50) is None
    assert len(message["blocks"]) <= 50
    for block in message["blocks"] + shared["blocks"]:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000
            assert "<!channel>" not in block["text"]["text"]
        for element in block.get("elements", []):
            assert len(element.get("value", "")) <= MAX_BUTTON_VALUE


def test_more_value_round_trips_a_long_query():
    query = 'author:"Song Han" ' + "ü\"\\ " * 120
    value = views.more_value(query, 35)
    assert len(value) <= MAX_BUTTON_VALUE
    assert views.parse_more_value(value) == (query, 35)
    assert views.parse_more_value("not json") is None
    assert views.parse_more_value(json.dumps({"q": "x", "o": -1})) is None


def test_a_search_snippet_starts_at_the_match_and_bolds_the_stemmed_forms():
    opening = " ".join(f"Sentence number {n} says something about attention." for n in range(30))
    abstract = opening + " Post-training quantization keeps accuracy. It also halves memory. Code is public."
    paper = PaperRecord(arxiv_id="2503.00001", version=2, title="T", abstract=abstract, authors=("A",),
                        primary_category="cs.LG", categories=("cs.LG",), published=datetime(2025, 3, 20, tzinfo=UTC),
                        updated=datetime(2025, 3, 21, tzinfo=UTC))
    text = views.search_snippet(paper, ("quantized",))
    assert text.startswith("… Post-training *quantization* keeps accuracy.")
    assert "Sentence number 0" not in text and len(text) <= views.SNIPPET_CHARS + 10
    assert views.search_snippet(paper, ("nothing",)).startswith("Sentence number 0")


# -- any text -> a reply with no live mention or link of the user's making ---------------------------

_OUR_LINKS = re.compile(r"<https://arxiv\.org/abs/[^|<>]+\|[^<>]*>")


def _mrkdwn_texts(reply: dict) -> list[str]:
    texts = [reply["text"]]
    for block in reply.get("blocks", []):
        if "text" in block:
            texts.append(block["text"]["text"])
        texts.extend(e.get("text", "") for e in block.get("elements", []) if block["type"] == "context")
    return texts


@pytest.fixture(scope="module")
def seeded_services(tmp_path_factory):
    from bot.app import Services, build_store
    from bot.config import Settings
    from bot.ingest import ingest_feed_file
    from tests.conftest import SEED_FEED

    settings = Settings(database_url=f"sqlite:///{tmp_path_factory.mktemp('router') / 'papers.db'}")
    store = build_store(settings)
    ingest_feed_file(store.session_factory, SEED_FEED)
    yield Services(settings=settings, store=store)
    store.engine.dispose()


_QUERY_TEXT = st.one_of(
    st.text(max_size=600),
    st.lists(st.sampled_from(["kv", "cache", "<!channel>", "<@U1>", "<#C1|x>", "<https://evil|click>", "&", "*",
                              "_", "`", "~", '"', "-", "author:", "cat:cs", "since:2025-03-01", "unread", "help",
                              "search", "topic", "read", "pruning", ">", "<", "\u202e", "x:y", "(", "AND"]),
             max_size=12).map(" ".join),
)


@given(text=_QUERY_TEXT)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_command_text_gets_a_reply_without_live_markup_from_the_user(seeded_services, text):
    reply = papers_reply(seeded_services, {"text": text, "team_id": "T1", "user_id": "U1", "channel_id": "C1"})
    assert reply["response_type"] == "ephemeral" and reply["text"]
    assert "something went wrong" not in reply["text"]  # an exception would have become the apology
    for piece in _mrkdwn_texts(reply):
        assert "<" not in _OUR_LINKS.sub("", piece)
        assert ">" not in _OUR_LINKS.sub("", piece).replace("&gt;", "")


def test_unescape_gives_back_what_slack_escaped_and_nothing_more():
    assert unescape("R&amp;D &lt;!channel&gt; a &amp;lt; b") == "R&D <!channel> a &lt; b"


@given(st.text(max_size=200))
def test_unescape_undoes_escape_for_any_text(typed):
    assert unescape(escape(typed)) == typed
