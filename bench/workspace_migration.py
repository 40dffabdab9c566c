"""What migration 0011 (team_id on the digest ledger and topics) and the hand-over of rows from before workspaces cost
on a grown install: a database at 0009 with N digest items (a run per 50), N reads and N/10 follows, upgraded to
head, then every '' row handed to one workspace (bot.workspaces.adopt_unassigned_rows).

    python bench/workspace_migration.py --items 200000
    python bench/workspace_migration.py --items 200000 --database-url postgresql://postgres@127.0.0.1:5432/papers_mig

The database is emptied first (SQLite: a new file in a temporary folder; PostgreSQL: the public schema dropped).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from alembic import command
from sqlalchemy import text

from bot.config import normalise_database_url
from bot.workspaces import adopt_unassigned_rows
from db.session import _alembic_config, make_engine, make_session_factory, upgrade

RUN_EVERY = 50


def fill(engine, items: int) -> None:
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0009_foryou_dm")
    papers = [{"a": f"2503.{n:05d}", "n": n} for n in range(items)]
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO papers (arxiv_id, version, title, abstract, authors, author_names, primary_category, "
            "categories, published, updated, first_seen_at, last_seen_at) VALUES (:a, 1, 't', 'a', '[]', '', "
            "'cs.LG', 'cs.LG', '2025-03-01', '2025-03-01', '2025-03-01', '2025-03-01')"), papers)
        runs = [{"id": r + 1, "c": f"C{r % 40:04d}", "d": f"2025-{1 + r // 900:02d}-{1 + r % 28:02d}"}
                for r in range((items + RUN_EVERY - 1) // RUN_EVERY)]
        connection.execute(text("INSERT INTO digest_runs (id, channel, digest_date, status, paper_count, started_at) "
                                "VALUES (:id, :c || :id, :d, 'done', 50, '2025-03-01')"), runs)
        connection.execute(text("INSERT INTO digest_items (run_id, channel, arxiv_id, position, message_ts) "
                                "VALUES (:r, :c, :a, 0, '1.1')"),
                           [{"r": 1 + n // RUN_EVERY, "c": f"C{n % 40:04d}", "a": p["a"]}
                            for n, p in enumerate(papers)])
        connection.execute(text("INSERT INTO reads (team_id, user_id, arxiv_id, source, read_at) "
                                "VALUES ('', :u, :a, 'button', '2025-03-01')"),
                           [{"u": f"U{n % 300:04d}", "a": p["a"]} for n, p in enumerate(papers)])
        connection.execute(text("INSERT INTO follows (team_id, user_id, query, created_at) "
                                "VALUES ('', :u, :q, '2025-03-01')"),
                           [{"u": f"U{n % 300:04d}", "q": f"q{n}"} for n in range(items // 10)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    url = normalise_database_url(args.database_url or f"sqlite:///{Path(folder.name) / 'mig.db'}")
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    fill(engine, args.items)
    began = time.perf_counter()
    upgrade(engine)
    migrated = time.perf_counter() - began
    began = time.perf_counter()
    assigned = adopt_unassigned_rows(make_session_factory(engine), "T0BENCH")
    handed = time.perf_counter() - began
    print(json.dumps({"database": engine.dialect.name, "digest_items": args.items, "reads": args.items,
                      "upgrade_0009_to_head_seconds": round(migrated, 2), "hand_over_seconds": round(handed, 2),
                      "rows_handed_over": assigned}, indent=2))
    engine.dispose()
    folder.cleanup()


if __name__ == "__main__":
    main()
