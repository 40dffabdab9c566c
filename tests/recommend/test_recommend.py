"""For you, similar papers and popular on the 87 seed papers, through real reads, on SQLite and PostgreSQL.

The fields below are read off the seed papers' abstracts, one reason each, before any ranking was looked at
for them; a paper can be in both.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from bot import recommend
from bot.config import ConfigError, Settings
from bot.ingest import ingest_feed_file, ingest_records
from bot.reading import mark_read, mark_unread
from bot.search import BadQuery
from bot.topics import Topic
from db.models import Paper, PaperVector
from db.papers import get_paper
from db.records import PaperRecord
from db.session import make_engine, make_session_factory
from tests.conftest import SEED_FEED

TEAM, OTHER_TEAM = "T0TEAM", "T0OTHER"
KV_CACHE_FIELD = {
    "2503.14881",  # limits of KV-cache compression in visual autoregressive transformers
    "2503.14647",  # reusing a stored KV cache across requests
    "2503.13773",  # KV-cache competition between LLM requests
    "2503.12491",  # CAKE: KV-cache eviction per layer
    "2503.11816",  # a survey of KV-cache compression
    "2503.11132",  # X-EcoMLA: extreme KV compression through MLA
    "2503.11108",  # limits of KV-cache compression for tensor attention
    "2503.12450",  # LazyMAR: caching for masked autoregressive models where KV caching fails
}
TOKEN_PRUNING_FIELD = {
    "2503.14075",  # TwigVLM: visual token pruning
    "2503.13108",  # HiMAP: prunes image tokens in MLLMs
    "2503.11549",  # SAINT: token pruning for ViTs and VLMs
    "2503.11187",  # FastVID: token pruning for video LLMs
    "2503.13360",  # TVC: prunes redundant visual tokens during reasoning
    "2503.11164",  # mixed-sparsity pruning of LLMs
    "2503.11737",  # node pruning for graph pooling
    "2503.13385",  # dynamic sample pruning for efficient training
    "2503.12852",  # ACT360: pruning and quantization for deployment
    "2503.13440",  # MaTVLM: efficient vision-language model inference
    "2503.12450",  # LazyMAR: skips redundant tokens' computation
}
KV_READS = ("2503.14881", "2503.12491", "2503.11816")
TOKEN_PRUNING_READS = ("2503.11549", "2503.11187", "2503.14075")
NOW = datetime(2025, 3, 21, 12, 0, tzinfo=UTC)  # the day after the seed papers


@pytest.fixture(autouse=True)
def fresh_caches():
    recommend.clear_caches()
    yield
    recommend.clear_caches()


@pytest.fixture
def factory(store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    return store.session_factory


def read(factory, user_id: str, arxiv_ids, *, team_id: str = TEAM, when: datetime = NOW) -> None:
    for n, arxiv_id in enumerate(arxiv_ids):
        mark_read(factory, team_id=team_id, user_id=user_id, arxiv_id=arxiv_id, source="button",
                  now=when - timedelta(minutes=len(arxiv_ids) - n))


def for_you(factory, user_id: str, **kwargs) -> recommend.ForYouPage:
    return recommend.for_you(factory, team_id=kwargs.pop("team_id", TEAM), user_id=user_id,
                             limit=kwargs.pop("limit", 5), now=NOW, **kwargs)


def ids(page) -> list[str]:
    return [item.paper.arxiv_id for item in page.items]


# -- For you ------------------------------------------------------------------------------------------


def test_a_kv_cache_reader_and_a_token_pruning_reader_each_get_their_own_field_and_nothing_they_read(factory):
    read(factory, "U0KV", KV_READS)
    read(factory, "U0PRUNE", TOKEN_PRUNING_READS)  # same workspace: each one's reads count as popular for the other

    kv, pruning = for_you(factory, "U0KV"), for_you(factory, "U0PRUNE")

    assert len(kv.items) == len(pruning.items) == 5
    assert len(set(ids(kv)) & KV_CACHE_FIELD) >= 4, ids(kv)
    assert len(set(ids(pruning)) & TOKEN_PRUNING_FIELD) >= 4, ids(pruning)
    assert not set(ids(kv)) & set(KV_READS)
    assert not set(ids(pruning)) & set(TOKEN_PRUNING_READS)
    assert not kv.cold_start and not pruning.cold_start
    assert kv.total == pruning.total == 87 - 3


def test_every_recommendation_says_which_of_the_readers_own_reads_it_is_like(factory):
    read(factory, "U0KV", KV_READS)

    page = for_you(factory, "U0KV")

    assert all(item.because is not None and item.because.arxiv_id in KV_READS for item in page.items)
    assert [item.score for item in page.items] == sorted((item.score for item in page.items), reverse=True)


def test_a_paper_marked_read_leaves_the_list_at_once_and_unread_brings_it_back(factory):
    read(factory, "U0KV", KV_READS)
    first = for_you(factory, "U0KV")  # caches this reader's profile

    mark_read(factory, team_id=TEAM, user_id="U0KV", arxiv_id=first.items[0].paper.arxiv_id, source="button",
              now=NOW)
    after = for_you(factory, "U0KV")
    mark_unread(factory, team_id=TEAM, user_id="U0KV", arxiv_id=first.items[0].paper.arxiv_id)
    again = for_you(factory, "U0KV")

    assert first.items[0].paper.arxiv_id not in ids(after)
    assert after.total == first.total - 1
    assert ids(again) == ids(first)


def test_pages_follow_each_other_without_repeats(factory):
    read(factory, "U0KV", KV_READS)

    first = for_you(factory, "U0KV", limit=5)
    second = for_you(factory, "U0KV", limit=5, offset=first.next_offset)

    assert first.next_offset == 5
    assert not set(ids(first)) & set(ids(second))
    assert ids(for_you(factory, "U0KV", limit=10)) == ids(first) + ids(second)


def test_a_reader_without_reads_gets_topic_matches_and_what_the_workspace_reads_flagged_as_a_cold_start(factory):
    read(factory, "U0KV", ["2503.15465"])  # FP4DiT, off the topic below; one colleague read it
    topics = [Topic(keywords=("token pruning", "visual tokens"))]

    page = for_you(factory, "U0NEW", topics=topics, limit=10)

    assert page.cold_start
    assert all(item.because is None for item in page.items)
    assert sum(item.topic_match for item in page.items) >= 5
    assert set(ids(page)[:3]) <= TOKEN_PRUNING_FIELD
    popular = [item for item in page.items if item.paper.arxiv_id == "2503.15465"]
    assert popular and popular[0].readers == 1


def test_a_reader_with_no_reads_and_no_topics_gets_what_the_workspace_reads_then_the_newest(factory):
    read(factory, "U0A", ["2503.11108"])
    read(factory, "U0B", ["2503.11108", "2503.12491"])

    page = for_you(factory, "U0NEW", limit=5)

    assert page.cold_start
    assert ids(page)[:2] == ["2503.11108", "2503.12491"]
    assert [item.readers for item in page.items[:2]] == [2, 1]
    newest = [item.paper.published for item in page.items[2:]]
    assert newest == sorted(newest, reverse=True)


def test_another_workspaces_reads_count_for_nothing_here(factory):
    read(factory, "U0X", ["2503.11108"], team_id=OTHER_TEAM)

    page = for_you(factory, "U0NEW", limit=87)

    assert all(item.readers == 0 for item in page.items)


def test_search_filters_narrow_for_you(factory):
    read(factory, "U0KV", KV_READS)

    worded = for_you(factory, "U0KV", filters="pruning", limit=10)
    categorised = for_you(factory, "U0KV", filters="cat:cs.LG since:2025-03-18", limit=10)

    assert worded.items and worded.filters == "pruning"
    assert all("prun" in f"{i.paper.title} {i.paper.abstract}".lower() for i in worded.items)
    assert not set(ids(worded)) & set(KV_READS)
    assert categorised.items
    assert all(i.paper.published >= datetime(2025, 3, 18, tzinfo=UTC) for i in categorised.items)


@pytest.mark.parametrize("filters", ["cat:!!", "since:yesterday", "nope:x", "-survey"])
def test_a_bad_filter_is_refused_with_searchs_message_before_any_work(store, filters):
    with pytest.raises(BadQuery):
        recommend.for_you(store.session_factory, team_id=TEAM, user_id="U0KV", limit=5, filters=filters)


def test_papers_already_sent_can_be_left_out(factory):
    read(factory, "U0KV", KV_READS)
    first = for_you(factory, "U0KV")

    later = for_you(factory, "U0KV", exclude=ids(first))

    assert not set(ids(first)) & set(ids(later))


def test_the_window_counts_back_from_the_newest_paper_not_from_today(factory):
    old = PaperRecord(arxiv_id="hep-th/9901001", version=1, title="Old KV cache compression", abstract="KV cache.",
                      authors=("P. Physicist",), primary_category="hep-th", categories=("hep-th",),
                      published=datetime(1999, 1, 4, tzinfo=UTC), updated=datetime(1999, 1, 4, tzinfo=UTC))
    ingest_records(factory, [old])
    read(factory, "U0KV", KV_READS)

    page = recommend.for_you(factory, team_id=TEAM, user_id="U0KV", limit=10, now=datetime(2030, 1, 1, tzinfo=UTC))
    short = for_you(factory, "U0KV", window_days=2, limit=10)

    assert page.items and "hep-th/9901001" not in ids(page)
    assert page.window_end.date() == date(2025, 3, 19)  # the newest seed paper
    assert page.window_start == page.window_end - timedelta(days=recommend.DEFAULT_WINDOW_DAYS)
    assert all(i.paper.published >= short.window_start for i in short.items)
    assert short.total < page.total


def test_an_empty_store_answers_an_empty_cold_start(store):
    page = recommend.for_you(store.session_factory, team_id=TEAM, user_id="U0KV", limit=5)

    assert page.items == () and page.cold_start and page.total == 0


# -- vectors --------------------------------------------------------------------------------------------


def vector_rows(factory) -> dict[int, int]:
    with factory.begin() as session:
        return {row[0]: row[1] for row in session.execute(select(PaperVector.paper_id, PaperVector.paper_version))}


def test_ingest_stores_one_vector_per_paper_and_the_backfill_makes_what_is_missing(factory):
    assert len(vector_rows(factory)) == 87
    with factory.begin() as session:
        session.execute(delete(PaperVector).where(PaperVector.paper_id <= 40))
        session.execute(update(PaperVector).where(PaperVector.paper_id == 50).values(model="an-older-model"))

    made = recommend.backfill_vectors(factory, batch=16)

    assert made == 41
    assert len(vector_rows(factory)) == 87
    assert recommend.backfill_vectors(factory) == 0


def test_a_new_version_of_a_paper_gets_a_new_vector(factory):
    with factory.begin() as session:
        paper = get_paper(session, "2503.12491")
        paper_id = session.scalar(select(Paper.id).where(Paper.arxiv_id == "2503.12491"))
        before = session.get(PaperVector, paper_id).vector

    ingest_records(factory, [dataclasses.replace(paper, version=paper.version + 1,
                                                 abstract="Entirely new words about gardening.")])

    with factory.begin() as session:
        row = session.get(PaperVector, paper_id)
        assert (row.paper_version, row.model) == (paper.version + 1, recommend.MODEL)
        assert row.vector != before


# -- similar and popular --------------------------------------------------------------------------------


def test_similar_to_a_kv_cache_paper_is_mostly_kv_cache_papers_and_never_itself(factory):
    page = recommend.similar(factory, arxiv_id="2503.12491", limit=5)

    assert page.paper.arxiv_id == "2503.12491"
    assert len(page.items) == 5 and "2503.12491" not in ids(page)
    assert len(set(ids(page)) & KV_CACHE_FIELD) >= 4, ids(page)


def test_similar_to_an_unknown_paper_says_so(factory):
    with pytest.raises(recommend.UnknownPaper, match="2501.00001"):
        recommend.similar(factory, arxiv_id="2501.00001", limit=5)


def test_popular_orders_by_distinct_readers_then_by_the_latest_read(factory):
    read(factory, "U0A", ["2503.11108", "2503.12491", "2503.14647"], when=NOW - timedelta(days=1))
    read(factory, "U0B", ["2503.11108", "2503.12491"], when=NOW - timedelta(days=2))
    read(factory, "U0C", ["2503.11108", "2503.14647"], when=NOW - timedelta(hours=1))  # 14647 read last
    read(factory, "U0D", ["2503.13773"], when=NOW - timedelta(days=20))  # in the month, not the week
    read(factory, "U0X", ["2503.15465"], team_id=OTHER_TEAM)
    read(factory, "U0Y", ["2503.15465"], team_id=OTHER_TEAM)

    week = recommend.popular(factory, team_id=TEAM, window="week", limit=10, now=NOW)
    month = recommend.popular(factory, team_id=TEAM, window="month", limit=10, now=NOW)

    assert [(i.paper.arxiv_id, i.readers) for i in week.items] == [
        ("2503.11108", 3), ("2503.14647", 2), ("2503.12491", 2)]
    assert [i.paper.arxiv_id for i in month.items][-1] == "2503.13773"
    assert {f.name for f in dataclasses.fields(recommend.PopularPaper)} == {"paper", "readers", "last_read_at"}


def test_popular_takes_week_or_month_only():
    assert recommend.parse_popular_window("") == "week"
    assert recommend.parse_popular_window(" Month ") == "month"
    with pytest.raises(recommend.BadPopularWindow, match="week"):
        recommend.parse_popular_window("year")


# -- settings and failures ---------------------------------------------------------------------------------


def test_the_window_length_is_a_setting():
    assert Settings.from_env({}).foryou_window_days == 30
    assert Settings.from_env({"FORYOU_WINDOW_DAYS": "14"}).foryou_window_days == 14
    with pytest.raises(ConfigError, match="FORYOU_WINDOW_DAYS"):
        Settings.from_env({"FORYOU_WINDOW_DAYS": "0"})


def test_a_database_failure_is_an_apology_not_a_traceback(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'missing' / 'papers.db'}")
    broken = make_session_factory(engine)

    for call in (lambda: recommend.for_you(broken, team_id=TEAM, user_id="U0KV", limit=5),
                 lambda: recommend.similar(broken, arxiv_id="2503.12491", limit=5),
                 lambda: recommend.popular(broken, team_id=TEAM, window="week", limit=5)):
        with pytest.raises(recommend.RecommendUnavailable, match="try again"):
            call()
