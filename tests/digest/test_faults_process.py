"""A `papers-bot digest` process killed (SIGKILL) in the middle of posting: the restart waits for the dead
process's lease, then posts the rest of the digest exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.cli import main
from db.models import DigestItem, DigestRun
from tests.conftest import SEED_FEED
from tests.digest.test_digest_slack import SEED_ON_TOPIC, posted_paper_ids, posts

COMMAND = ["digest", "--date", "2025-03-21", "--channel", "C0DIGEST", "--from-file", str(SEED_FEED)]
ARGV = [sys.executable, "-m", "bot", *COMMAND]


def posted_items(store) -> int:
    with store.session_factory.begin() as session:
        return session.scalar(select(func.count()).select_from(DigestItem).where(DigestItem.message_ts.is_not(None)))


def rerun(capsys) -> tuple[int, str, str]:
    """The same command again, in the test's process (slack_env set its environment): the restart only needs to
    be another process than the killed one, and this one saves a subprocess's second of start-up."""
    capsys.readouterr()
    code = main(COMMAND)
    return code, *capsys.readouterr()


def test_a_digest_process_killed_mid_run_is_resumed_with_the_rest_posted_exactly_once(store, slack_env, fake_slack,
                                                                                        capsys):
    # The first process is paced (0.3 s after each message) so it can be killed between two replies; the
    # restarts need no pacing.
    child_env = {**os.environ, **slack_env}
    child = subprocess.Popen(ARGV, env={**child_env, "DIGEST_PACE_SECONDS": "0.3"}, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        # The parent and two replies are in the ledger; the process now waits out its pacing.
        while posted_items(store) < 10:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the digest never got going"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    before = posted_paper_ids(fake_slack)
    assert 10 <= len(before) < SEED_ON_TOPIC and len(before) == len(set(before))

    # Restarted at once: the dead process's lease still holds, so nothing is posted twice.
    code, out, err = rerun(capsys)
    assert code == 0, err
    assert "busy" in out
    assert posted_paper_ids(fake_slack) == before

    # Five minutes later (the lease runs out) the next run takes over and posts only the rest.
    with store.session_factory.begin() as session:
        session.execute(update(DigestRun).values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    code, out, err = rerun(capsys)
    assert code == 0, err
    assert f"posted, {SEED_ON_TOPIC} papers" in out
    ids = posted_paper_ids(fake_slack)
    assert len(ids) == len(set(ids)) == SEED_ON_TOPIC
    assert sum(1 for m in posts(fake_slack) if not m.get("thread_ts")) == 1  # one parent, in whose thread all went
    with store.session_factory.begin() as session:
        parent_ts = session.scalar(select(DigestRun.parent_ts))
    assert {m["thread_ts"] for m in posts(fake_slack) if m.get("thread_ts")} == {parent_ts}

    code, out, _ = rerun(capsys)
    assert code == 0 and "already-done" in out
    assert len(posted_paper_ids(fake_slack)) == SEED_ON_TOPIC
