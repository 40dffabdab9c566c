"""Read tracking in the domain and the /papers read|unread|history replies, on a real database."""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

import db.reads
from bot import reading
from bot.app import Services
from bot.ingest import ingest_feed_file, ingest_records
from db.records import PaperRecord
from handlers.arxiv_lookups import ArxivLookups
from handlers.commands import papers_reply
from handlers.reading import history_command, read_command, unread_command
from tests.conftest import SEED_FEED

ID_FORMS = [
    "2503.14881",
    "2503.14881v2",
    "arXiv:2503.14881",
    "https://arxiv.org/abs/2503.14881v1",
    "https://arxiv.org/pdf/2503.14881",
    "https://arxiv.org/pdf/2503.14881v1.pdf",
    "<https://arxiv.org/abs/2503.14881v1|arxiv.org/abs/2503.14881v1>",
    "<https://arxiv.org/pdf/2503.14881>",
]


def old_style_paper() -> PaperRecord:
    when = datetime(1999, 1, 4, tzinfo=UTC)
    return PaperRecord(arxiv_id="hep-th/9901001", version=1, title="Old-style <ids> & strings", abstract="A.",
                       authors=("P. Physicist",), primary_category="hep-th", categories=("hep-th",),
                       published=when, updated=when)


@pytest.fixture
def seeded(store):
    ingest_feed_file(store.session_factory, SEED_FEED)
    ingest_records(store.session_factory, [old_style_paper()])
    return store


@pytest.fixture
def services(settings, seeded, fake_arxiv):
    return Services(settings=dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url, arxiv_max_retries=0),
                    store=seeded)


def command(user_id: str = "U0ALICE", team_id: str = "T0TEAM") -> dict:
    return {"team_id": team_id, "user_id": user_id, "channel_id": "C0DIGEST", "command": "/papers"}


def reads_of(store, user_id="U0ALICE", team_id="T0TEAM"):
    return reading.history(store.session_factory, team_id=team_id, user_id=user_id, limit=40).reads


# -- parsing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ID_FORMS)
def test_every_id_form_names_the_same_paper(ref):
    assert reading.parse_paper_ref(ref) == "2503.14881"


@pytest.mark.parametrize("ref", ["hep-th/9901001", "hep-th/9901001v3", "arXiv:hep-th/9901001",
                                 "https://arxiv.org/abs/hep-th/9901001v1", "HEP-TH/9901001"])
def test_old_style_ids_are_accepted(ref):
    assert reading.parse_paper_ref(ref) == "hep-th/9901001"


@pytest.mark.parametrize("ref", ["", "hello", "12503.148812", "2503.14881 and more", "2503.148",
                                 "https://example.com/abs/2503.14881", "<!channel>"])
def test_malformed_refs_are_refused_with_an_example(ref):
    with pytest.raises(reading.BadPaperRef) as err:
        reading.parse_paper_ref(ref)
    assert "2503.14881" in str(err.value)


# -- commands ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ID_FORMS)
def test_read_then_unread_by_each_id_form(services, ref):
    reply = read_command(services, command(), ref)
    assert reply["response_type"] == "ephemeral"
    assert "Marked read" in reply["text"]
    assert [r.paper.arxiv_id for r in reads_of(services.store)] == ["2503.14881"]
    assert reads_of(services.store)[0].source == "command"

    reply = unread_command(services, command(), ref)
    assert "Marked unread" in reply["text"]
    assert reads_of(services.store) == []


def test_read_and_unread_an_old_style_id(services):
    assert "Marked read" in read_command(services, command(), "arXiv:hep-th/9901001v1")["text"]
    assert [r.paper.arxiv_id for r in reads_of(services.store)] == ["hep-th/9901001"]
    assert "Marked unread" in unread_command(services, command(), "hep-th/9901001")["text"]
    assert reads_of(services.store) == []


def test_malformed_ref_gets_a_clear_escaped_message(services):
    reply = read_command(services, command(), "<!channel> please")
    assert "is not an arXiv id" in reply["text"]
    assert "<!channel>" not in reply["text"] and "&lt;!channel&gt;" in reply["text"]
    assert "blocks" not in reply


def test_paper_unknown_locally_is_fetched_from_arxiv_and_recorded(settings, store, fake_arxiv):
    services = Services(settings=dataclasses.replace(settings, arxiv_api_url=fake_arxiv.url), store=store)
    reply = read_command(services, command(), "https://arxiv.org/abs/2503.14881v1")
    assert "Marked read" in reply["text"]
    assert fake_arxiv.requests[0].params["id_list"] == "2503.14881"
    [read] = reads_of(store)
    assert read.paper.title == "Exploring the Limits of KV Cache Compression in Visual Autoregressive Transformers"


def test_paper_arxiv_does_not_know_either_gets_a_no_paper_message(services, fake_arxiv):
    reply = read_command(services, command(), "2501.00001")
    assert "no paper `2501.00001`" in reply["text"]
    assert len(fake_arxiv.requests) == 1
    assert reads_of(services.store) == []


def test_arxiv_down_while_looking_up_says_so(services, fake_arxiv):
    fake_arxiv.faults.extend(["503", "503"])
    reply = read_command(services, command(), "2501.00001")
    assert "arXiv did not answer" in reply["text"]


def test_unread_of_a_paper_never_read_says_so(services):
    assert "was not in your reads" in unread_command(services, command(), "2503.14881")["text"]
    assert "no paper" in unread_command(services, command(), "2501.00001")["text"]


def test_database_hiccup_gives_a_short_apology(services, monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("INSERT INTO reads", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(db.reads, "upsert_read", broken)
    reply = read_command(services, command(), "2503.14881")
    assert reply["text"].startswith("Sorry")
    assert "Traceback" not in reply["text"] and "INSERT" not in reply["text"]


def test_history_lists_own_reads_newest_first_with_a_more_button(services):
    factory = services.store.session_factory
    start = datetime(2025, 3, 21, 9, tzinfo=UTC)
    ids = ["2503.15465", "2503.15436", "2503.15271", "2503.15209", "2503.15191", "2503.15125", "2503.15022",
           "2503.14951", "2503.14882", "2503.14881", "2503.14845", "2503.14781"]
    for minutes, arxiv_id in enumerate(ids):
        reading.mark_read(factory, team_id="T0TEAM", user_id="U0ALICE", arxiv_id=arxiv_id, source="button",
                          now=start + timedelta(minutes=minutes))
    reply = history_command(services, command(), "")
    sections = [b for b in reply["blocks"] if b["type"] == "section"][1:]
    assert len(sections) == 10
    assert ids[-1] in sections[0]["text"]["text"] and ids[2] in sections[-1]["text"]["text"]
    assert all(s["accessory"]["text"]["text"] == "Unread" for s in sections)
    more = reply["blocks"][-1]["elements"][0]
    assert more["action_id"] == "history_more"

    assert len([b for b in history_command(services, command(), "3")["blocks"] if b["type"] == "section"]) == 4
    assert "1–12 of 12" in history_command(services, command(), "500")["text"]
    assert "takes a number" in history_command(services, command(), "lots")["text"]
    assert "not marked any papers" in history_command(services, command(user_id="U0BOB"), "")["text"]


def test_reads_are_scoped_to_user_and_team(services):
    factory = services.store.session_factory
    reading.mark_read(factory, team_id="T0TEAM", user_id="U0ALICE", arxiv_id="2503.14881", source="button")
    reading.mark_read(factory, team_id="T0OTHER", user_id="U0ALICE", arxiv_id="2503.15465", source="button")
    reading.mark_read(factory, team_id="T0TEAM", user_id="U0BOB", arxiv_id="2503.15436", source="button")

    assert [r.paper.arxiv_id for r in reads_of(services.store)] == ["2503.14881"]
    assert [r.paper.arxiv_id for r in reads_of(services.store, "U0BOB")] == ["2503.15436"]
    assert [r.paper.arxiv_id for r in reads_of(services.store, team_id="T0OTHER")] == ["2503.15465"]
    # Bob unreading Alice's paper changes nothing for Alice.
    assert "was not in your reads" in unread_command(services, command(user_id="U0BOB"), "2503.14881")["text"]
    assert [r.paper.arxiv_id for r in reads_of(services.store)] == ["2503.14881"]
    history = history_command(services, command(user_id="U0BOB"), "")
    assert "2503.15436" in str(history["blocks"]) and "2503.14881" not in str(history["blocks"])


def test_reading_twice_keeps_the_first_time_and_source(seeded):
    factory = seeded.session_factory
    first = datetime(2025, 3, 21, 9, tzinfo=UTC)
    one = reading.mark_read(factory, team_id="T0TEAM", user_id="U0ALICE", arxiv_id="2503.14881", source="opened",
                            now=first)
    two = reading.mark_read(factory, team_id="T0TEAM", user_id="U0ALICE", arxiv_id="2503.14881v2",
                            source="button", now=first + timedelta(hours=3))
    assert one.newly_read and not two.newly_read
    assert two.read_at == first and two.source == "opened"
    [read] = reads_of(seeded)
    assert read.read_at == first and read.source == "opened"


def test_concurrent_reads_from_separate_connections_make_one_row(seeded):
    """Several threads, each with its own session and connection (real concurrency on PostgreSQL)."""
    factory = seeded.session_factory
    barrier = threading.Barrier(8)
    outcomes, errors = [], []

    def click():
        try:
            barrier.wait(timeout=5)
            outcomes.append(reading.mark_read(factory, team_id="T0TEAM", user_id="U0ALICE",
                                              arxiv_id="2503.14881", source="button"))
        except Exception as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=click) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sum(o.newly_read for o in outcomes) == 1
    assert len({o.read_at for o in outcomes}) == 1
    assert len(reads_of(seeded)) == 1


def test_a_read_that_waits_on_arxiv_answers_now_and_again_when_done_or_asks_to_wait_when_the_queue_is_full(
        services, fake_arxiv):
    later = []
    done = threading.Event()

    def respond(**reply):
        later.append(reply)
        done.set()

    lookups = ArxivLookups()
    stored = papers_reply(services, {**command(), "text": "read 2503.14881"}, lookups=lookups, respond=respond)
    assert "Marked read" in stored["text"] and later == []  # a stored paper needs no lookup
    now = papers_reply(services, {**command(), "text": "read arXiv:2501.00001"}, lookups=lookups, respond=respond)
    assert "fetching it from arXiv" in now["text"] and "`2501.00001`" in now["text"]
    assert done.wait(10) and "no paper `2501.00001`" in later[0]["text"]
    lookups.shutdown()

    full = ArxivLookups(max_pending=0)
    busy = papers_reply(services, {**command(), "text": "read 2501.00002"}, lookups=full, respond=respond)
    assert "try again in a few minutes" in busy["text"] and len(later) == 1
    assert len(fake_arxiv.requests) == 1
