"""Migration 0011: rows from before workspaces get the '' mark, the first start that knows the install's workspace
(SLACK_TEAM_ID offline, else auth.test with SLACK_BOT_TOKEN) hands them to it, and the downgrade keeps one row per
old key. Runs on SQLite and, with TEST_DATABASE_URL, in a throwaway PostgreSQL schema."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from bot.app import build_store, workspace_installations
from db import workspaces as workspace_store
from db.models import ChannelTopic, DigestItem, DigestRun, Follow, ForYouDm
from tests.db.test_migrations import downgrade, fresh_database, upgrade
from tests.fakes.slack_api import TEAM_ID

BEFORE = "0009_foryou_dm"


def insert_rows_from_before(connection) -> None:
    connection.execute(text(
        "INSERT INTO channel_topics (channel, keywords, exclude, categories, updated_at, consecutive_failures) "
        "VALUES ('C0OLD', '[\"KV cache\"]', '[]', '[]', '2025-03-20 09:00:00', 0)"))
    connection.execute(text(
        "INSERT INTO digest_runs (id, channel, digest_date, status, paper_count, started_at) "
        "VALUES (7, 'C0OLD', '2025-03-21', 'done', 1, '2025-03-21 09:00:00')"))
    connection.execute(text(
        "INSERT INTO digest_items (id, run_id, channel, arxiv_id, position, message_ts) "
        "VALUES (3, 7, 'C0OLD', '2503.15465', 0, '1700000000.000100')"))
    connection.execute(text(
        "INSERT INTO follows (team_id, user_id, query, created_at) VALUES "
        "('', 'U0ANN', 'kv cache', '2025-03-20 09:00:00'), ('T0KEPT', 'U0ANN', 'pruning', '2025-03-20 09:00:00')"))
    connection.commit()


def test_upgrade_keeps_every_row_marked_unassigned_and_assigning_gives_them_the_team(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection, BEFORE)
        insert_rows_from_before(connection)
        upgrade(connection)
        for table in ("channel_topics", "digest_runs", "digest_items"):
            assert connection.execute(text(f"SELECT team_id FROM {table}")).scalars().all() == [""], table
        assert connection.execute(text("SELECT id, run_id FROM digest_items")).one() == (3, 7)  # ids kept
        # Keys are per team now: another workspace's C0OLD may have a run of the same day.
        connection.execute(text(
            "INSERT INTO digest_runs (team_id, channel, digest_date, status, paper_count, started_at) "
            "VALUES ('T0OTHER', 'C0OLD', '2025-03-21', 'done', 0, '2025-03-21 09:00:00')"))
        connection.commit()

        with Session(bind=connection) as session:
            assigned = workspace_store.assign_unassigned(session, "T0LAB")
            session.commit()
        assert assigned == {"digest_items": 1, "digest_runs": 1, "channel_topics": 1, "follows": 1}
        teams = connection.execute(text("SELECT team_id, query FROM follows ORDER BY query")).all()
        assert teams == [("T0LAB", "kv cache"), ("T0KEPT", "pruning")]  # a row that had its team keeps it
        assert connection.execute(text("SELECT team_id FROM digest_items")).scalar() == "T0LAB"


def test_downgrade_keeps_one_row_per_old_key_and_the_old_schema(tmp_path):
    with fresh_database(tmp_path) as connection:
        upgrade(connection)
        for team in ("T0B", "T0A"):
            connection.execute(text(
                "INSERT INTO channel_topics (team_id, channel, keywords, exclude, categories, updated_at, "
                f"consecutive_failures) VALUES ('{team}', 'C0SAME', '[\"{team}\"]', '[]', '[]', "
                "'2025-03-20 09:00:00', 0)"))
            run_id = connection.execute(text(
                "INSERT INTO digest_runs (team_id, channel, digest_date, status, paper_count, started_at) "
                f"VALUES ('{team}', 'C0SAME', '2025-03-21', 'done', 1, '2025-03-21 09:00:00') RETURNING id"
            )).scalar()
            connection.execute(text(
                "INSERT INTO digest_items (team_id, run_id, channel, arxiv_id, position) "
                f"VALUES ('{team}', {run_id}, 'C0SAME', '2503.15465', 0)"))
        connection.commit()
        downgrade(connection, BEFORE)
        assert "team_id" not in {c["name"] for c in inspect(connection).get_columns("channel_topics")}
        assert connection.execute(text("SELECT keywords FROM channel_topics")).scalars().all() in (
            ['["T0A"]'], [["T0A"]])  # the smallest team's row (JSON comes back as text on SQLite)
        assert connection.execute(text("SELECT count(*) FROM digest_runs")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM digest_items")).scalar() == 1
        assert "workspaces" not in inspect(connection).get_table_names()
        upgrade(connection)  # and up again
        assert connection.execute(text("SELECT team_id FROM channel_topics")).scalars().all() == [""]


def add_unassigned_rows(store) -> None:
    """What migration 0011 leaves of an install that served one workspace before workspaces."""
    now = datetime(2025, 3, 21, 9, tzinfo=UTC)
    with store.session_factory.begin() as session:
        session.add(ChannelTopic(team_id="", channel="C0OLD", keywords=["KV cache"], exclude=[], categories=[],
                                 updated_at=now))
        run = DigestRun(team_id="", channel="C0OLD", digest_date=now.date(), status="done", paper_count=0,
                        started_at=now)
        session.add(run)
        session.flush()
        session.add(DigestItem(team_id="", run_id=run.id, channel="C0OLD", arxiv_id="2503.15465", position=0))
        session.add(Follow(team_id="", user_id="U0ANN", query="kv cache", created_at=now))
        session.add(ForYouDm(team_id="", user_id="U0ANN", since=now))


def teams_of_rows(store) -> set[str]:
    with store.session_factory.begin() as session:
        return {team for model in (ChannelTopic, DigestRun, DigestItem, Follow, ForYouDm)
                for team in session.scalars(select(model.team_id))}


def test_a_start_with_slack_team_id_assigns_the_rows_offline(store, settings):
    add_unassigned_rows(store)
    build_store(dataclasses.replace(settings, slack_team_id="T0OFFLINE")).engine.dispose()
    assert teams_of_rows(store) == {"T0OFFLINE"}


def test_the_first_start_with_a_bot_token_asks_auth_test_once_and_assigns_the_rows(store, slack_settings, fake_slack):
    add_unassigned_rows(store)
    installations = workspace_installations(slack_settings, store)
    assert [team for team, _ in installations()] == [TEAM_ID]
    assert [team for team, _ in installations()] == [TEAM_ID]
    assert len(fake_slack.calls_to("auth.test")) == 1  # cached for the process
    assert teams_of_rows(store) == {TEAM_ID}
