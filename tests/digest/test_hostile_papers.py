"""Hostile paper content -- mentions, links, mrkdwn control characters, LaTeX, right-to-left text, emoji and
oversized fields -- through every place a paper is shown: the digest, search results, Share, read
confirmations, history and the App Home. Slack (the loopback fake) accepts every message, so no layout limit
is broken, and no message carries a live mention or a foreign link."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import digest, ingest
from bot.app import build_digest_poster
from bot.reading import HistoryPage, HomeSummary, ReadOutcome, UnreadOutcome
from bot.render_blocks import reading as reading_views
from bot.render_blocks.common import MARK_READ, MARK_UNREAD, SEARCH_SHARE
from db.records import DigestPaper, PaperRecord, ReadRecord
from tests.fakes.slack_api import LIVE_MARKUP, OUR_MARKUP, TEAM_ID, _limit_errors, mrkdwn_texts
from tests.slack_requests import block_actions_body, event_body, post, slash_command_body

NOW = datetime.now(UTC).replace(microsecond=0)
PINGS = ("<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<#C0GENERAL>", "<!subteam^S0ALL>",
         "<https://evil.example|click>", "<mailto:x@evil.example|mail>")
RTL = "שלום עולם ‏مرحبا بالعالم‮ reversed‬"
EMOJI = "🚀🔥👩‍👩‍👧‍👦 :tada: 🇺🇦"
MARKUP = "*bold* _it_ ~strike~ `code` ```block``` > quote &amp; &lt;!channel&gt;"
LATEX = r"$\mathcal{O}(n^2)$ with $a<b>c$ and \textbf{x} & $\frac{1}{2}$ <x|y>"


def hostile_papers(when: datetime) -> list[PaperRecord]:
    base = PaperRecord(
        arxiv_id="2511.00001", version=1,
        title=f"Sparse {PINGS[0]} {MARKUP} {RTL} {EMOJI} {LATEX} {PINGS[3]} {PINGS[6]}",
        abstract=" ".join([f"Sparse attention {p} {RTL} {EMOJI} {LATEX} {MARKUP}." for p in PINGS]),
        authors=(PINGS[2], "*Bold* _Author_", "عبد الله", "<@U0ALICE|alice>", EMOJI, PINGS[4]),
        primary_category="cs.LG", categories=("cs.LG", "<!here>"), published=when, updated=when,
    )
    huge = dataclasses.replace(
        base, arxiv_id="2511.00002",
        title="Sparse " + ("&<>" * 700) + EMOJI * 50,
        abstract=("sparse & <!here> " * 2000)[:20_000],
        authors=tuple(f"{PINGS[i % len(PINGS)]} {'&' * 400} {i}" for i in range(300)),
        categories=tuple(f"cs.{'&' * 50}{i}" for i in range(40)),
    )
    rtl = dataclasses.replace(base, arxiv_id="2511.00003", title=f"{RTL} sparse {EMOJI}" * 10,
                              abstract=f"{RTL} sparse " * 150, authors=(RTL,) * 5)
    return [base, huge, rtl]


def assert_no_live_markup_and_every_call_accepted(fake_slack, *, allow=()) -> None:
    refused = [(c.method, c.error) for c in fake_slack.calls if not c.ok]
    assert refused == [], refused
    assert fake_slack.live_markup(allow=allow) == []


def test_hostile_papers_through_digest_search_share_reads_history_and_home(slack_server, store, slack_settings,
                                                                            fake_slack):
    papers = hostile_papers(NOW - timedelta(hours=1))
    ingest.ingest_records(store.session_factory, papers)
    ids = [p.arxiv_id for p in papers]

    report = digest.post_digest(store.session_factory, build_digest_poster(slack_settings), slack_settings,
                                team_id=TEAM_ID, channel="C0DIGEST", digest_date=NOW.date(), pace_seconds=0)
    assert report.status == "posted" and report.papers_posted == 3 and report.errors == []

    # One at a time, each waited for: the lazy listeners run in threads, and history must follow the reads.
    def command(text: str, key: str) -> None:
        before = len(fake_slack.calls_to("response_url"))
        body = slash_command_body(text, response_url=fake_slack.response_url(key))
        assert post(f"{slack_server}/slack/events", body).status_code == 200
        assert len(fake_slack.wait_for("response_url", before + 1, timeout=30)) == before + 1

    def click(action_id: str, value: str, key: str) -> None:
        method = "chat.postMessage" if action_id == SEARCH_SHARE else "response_url"
        before = len(fake_slack.calls_to(method))
        action = {"type": "button", "action_id": action_id, "value": value, "block_id": "b1",
                  "text": {"type": "plain_text", "text": "x"}}
        body = block_actions_body(action, response_url=fake_slack.response_url(key))
        assert post(f"{slack_server}/slack/events", body).status_code == 200
        assert len(fake_slack.wait_for(method, before + 1, timeout=30)) == before + 1

    command("sparse", "search")
    command("2511.00001", "by-id")
    click(SEARCH_SHARE, ids[0], "share")
    click(SEARCH_SHARE, ids[1], "share-huge")
    click(SEARCH_SHARE, ids[2], "share-rtl")
    click(MARK_READ, ids[0], "read")
    command(f"read {ids[1]}", "read-cmd")
    command(f"read {ids[2]}", "read-cmd-rtl")
    command("history", "history")
    click(MARK_UNREAD, ids[2], "unread")
    replies = fake_slack.calls_to("response_url")
    assert len(replies) == 7 and len(fake_slack.calls_to("chat.postMessage")) == 5  # digest (2) + 3 shares

    home = event_body({"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D1"})
    assert post(f"{slack_server}/slack/events", home, content_type="application/json").status_code == 200
    [view_call] = fake_slack.wait_for("views.publish")

    assert_no_live_markup_and_every_call_accepted(fake_slack, allow=("<@U0ALICE>",))
    # The hostile text did reach Slack, as text: escaped, not dropped.
    by_key = {c.path.rsplit("/", 1)[-1]: json.dumps(c.args, ensure_ascii=False) for c in replies}
    assert "2511.00001" in by_key["search"] and "&lt;!channel&gt;" in by_key["search"]
    assert "&lt;!channel&gt;" in by_key["read"] and "Marked read" in by_key["read"]
    assert "שלום" in by_key["history"] and "et al." in by_key["history"]
    assert "Marked unread" in by_key["unread"]
    home_text = json.dumps(view_call.args, ensure_ascii=False)
    assert "&lt;@U0BOSS&gt;" in home_text or "&lt;!channel&gt;" in home_text
    digest_text = json.dumps([c.args for c in fake_slack.calls_to("chat.postMessage")], ensure_ascii=False)
    assert all(f"digest:{i}" in digest_text for i in ids) and "🚀" in digest_text


# -- the read-tracking renderers, for any paper text -------------------------------------------------

hostile_text = st.lists(
    st.sampled_from(PINGS + (RTL, EMOJI, MARKUP, LATEX, "&" * 50))
    | st.text(alphabet=st.sampled_from(list("<>&|*_~`!@#^:/ Sparse\n\u202e\u200fש🚀")) | st.characters(),
              max_size=100),
    max_size=12,
).map("".join)


@st.composite
def papers(draw):
    when = datetime(2025, 3, 20, tzinfo=UTC)
    return PaperRecord(
        arxiv_id=f"2503.{draw(st.integers(0, 99_999)):05d}", version=draw(st.integers(1, 30)),
        title=draw(hostile_text).strip() or "t", abstract=draw(hostile_text) or "a",
        authors=tuple(draw(st.lists(hostile_text, max_size=150))), primary_category="cs.LG",
        categories=tuple(draw(st.lists(hostile_text, max_size=10))), published=when, updated=when,
    )


def check(message: dict, *, max_blocks: int = 50) -> None:
    assert message.get("text") or message.get("type") == "home"
    assert len(message.get("text", "")) <= 40_000
    assert _limit_errors({"blocks": message.get("blocks", [])}, max_blocks=max_blocks) is None
    for text in mrkdwn_texts(message):
        assert not LIVE_MARKUP.search(OUR_MARKUP.sub("", text)), text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(papers(), min_size=1, max_size=40, unique_by=lambda p: p.arxiv_id), st.data())
def test_history_and_confirmations_of_any_papers_fit_and_ping_nobody(batch, data):
    when = datetime(2025, 3, 21, 9, tzinfo=UTC)
    reads = [ReadRecord(paper=p, source="button", read_at=when) for p in batch]
    page = HistoryPage(reads=reads, offset=data.draw(st.integers(0, 100)), limit=40, total=len(reads) + 100)
    check(reading_views.history_message(page))
    paper = batch[0]
    for newly in (True, False):
        check(reading_views.read_confirmation(ReadOutcome(paper=paper, newly_read=newly, read_at=when,
                                                          source="button")))
    for was_read in (True, False):
        check(reading_views.unread_confirmation(UnreadOutcome(arxiv_id=paper.arxiv_id, paper=paper,
                                                              was_read=was_read)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(papers(), min_size=1, max_size=120, unique_by=lambda p: p.arxiv_id))
def test_the_app_home_of_any_papers_fits_and_pings_nobody(batch):
    when = datetime(2025, 3, 21, 9, tzinfo=UTC)
    summary = HomeSummary(
        read_this_week=len(batch), read_total=len(batch) * 7,
        recent_reads=[ReadRecord(paper=p, source="home", read_at=when) for p in batch[:5]],
        unread_digest_papers=[DigestPaper(paper=p, posted_at=when) for p in batch],
        unread_digest_total=len(batch) + 500, digest_days=14,
    )
    check(reading_views.home_view(summary), max_blocks=100)
