"""The kill -9 loop: SIGKILL `papers-bot digest` at random points while it posts the 65-paper seed digest,
then rerun it to the end, and count what Slack holds: every paper must be in the channel exactly once.

    python bench/kill_loop.py                      # 20 kills, SQLite in a temp dir, Slack answering after 400 ms
    python bench/kill_loop.py --kills 5 --seed 7 --database-url postgresql://postgres@127.0.0.1:5432/papers_x
    python bench/kill_loop.py --code /tmp/older-checkout   # the same loop against another version's digest

Slack is the loopback fake of tests/fakes (it keeps every message it accepted, whatever it answered). Each
run is a real subprocess; a kill lands anywhere: during start-up, the claim, the lookups of a resumed run,
between Slack storing a message and answering it (the 400 ms), before the ts is recorded, or in the pace
between posts. After each kill the dead process's lease is expired (as five minutes passing would), so
the next run resumes at once. When a channel's digest finishes before the kills run out, the loop goes
on with the digest of a new channel. Duplicates and losses are counted from the fake's stored messages,
and each ledger row's ts is checked to point at the message that holds its paper.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select, update  # noqa: E402

from bot.app import build_store  # noqa: E402
from bot.config import Settings, normalise_database_url  # noqa: E402
from bot.ingest import ingest_feed_file  # noqa: E402
from db.models import DigestItem, DigestRun  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack  # noqa: E402

SEED_FEED = ROOT / "tests" / "fixtures" / "seed_feed.atom.xml"
SEED_ON_TOPIC = 65  # the seed papers the default topic matches
DIGEST_DATE = "2025-03-21"
EARLY_SHARE = 0.25  # kills aimed at start-up, claim and planning rather than at a post
RUN_TIMEOUT = 120.0


@dataclass
class Tally:
    kills: int = 0
    runs: int = 0
    early_kills: int = 0
    in_the_window: int = 0  # kills that left a message in Slack whose ts the ledger did not have
    finished_on_their_own: int = 0
    channels: list[str] = field(default_factory=list)


def papers_bot(code: str | None) -> list[str]:
    script = Path(sys.executable).with_name("papers-bot")
    return [str(script)] if script.exists() and not code else [sys.executable, "-m", "bot"]


def child_env(database_url: str, fake: FakeSlack, pace: float, code: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGEST_", "ARXIV_", "DATABASE_"))}
    env.update(DATABASE_URL=database_url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_API_URL=fake.base_url,
               DIGEST_PACE_SECONDS=str(pace), LOG_LEVEL="WARNING")
    if code:  # `python -m bot` run from that directory, so its `bot` comes first on sys.path
        env["PYTHONPATH"] = code
    return env


def digest_argv(env: dict) -> list[str]:
    return [*papers_bot(env.get("PYTHONPATH")), "digest", "--date", DIGEST_DATE, "--no-fetch", "--channel"]


def expire_leases(store) -> None:
    """As if the dead process's five-minute lease had run out."""
    with store.session_factory.begin() as session:
        session.execute(update(DigestRun).where(DigestRun.lease_owner.is_not(None))
                        .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))


def unrecorded(store, fake: FakeSlack, channel: str) -> int:
    """Messages Slack holds in `channel` whose ts the ledger does not know (yet)."""
    with store.session_factory.begin() as session:
        known = set(session.scalars(select(DigestRun.parent_ts).where(DigestRun.channel == channel)))
        known |= set(session.scalars(select(DigestItem.message_ts).where(DigestItem.channel == channel)))
    return sum(1 for m in fake.stored(channel) if m["ts"] not in known)


def wait_for_a_post(fake: FakeSlack, child: subprocess.Popen, before: int) -> bool:
    """Until Slack has stored one more message (True) or the child ended by itself (False)."""
    deadline = time.monotonic() + RUN_TIMEOUT
    while len(fake.stored()) == before:
        if child.poll() is not None:
            return False
        if time.monotonic() > deadline:  # a run that neither posts nor ends is a finding, not a reason to wait
            child.kill()
            raise SystemExit(f"a digest run posted nothing in {RUN_TIMEOUT} s and did not end")
        time.sleep(0.005)
    return True


def one_killed_run(store, fake: FakeSlack, env: dict, channel: str, rng: random.Random, tally: Tally) -> bool:
    """Start a digest run and SIGKILL it at a random point; False if it finished before the kill."""
    child = subprocess.Popen([*digest_argv(env), channel], env=env, cwd=env.get("PYTHONPATH"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tally.runs += 1
    if rng.random() < EARLY_SHARE:
        time.sleep(rng.uniform(0.2, 2.5))
        tally.early_kills += 1
    elif wait_for_a_post(fake, child, len(fake.stored())):
        time.sleep(rng.uniform(0.0, 1.4))  # Slack's 400 ms answer, the ts being recorded, the pace after it
    if child.poll() is not None:
        return False
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    tally.kills += 1
    tally.in_the_window += unrecorded(store, fake, channel) > 0
    expire_leases(store)
    return True


def run_to_the_end(store, env: dict, channel: str) -> str:
    expire_leases(store)
    done = subprocess.run([*digest_argv(env), channel], env=env, cwd=env.get("PYTHONPATH"), capture_output=True,
                          text=True, timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise SystemExit(f"the rerun for {channel} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


def paper_ids(message: dict) -> list[str]:
    return [b["block_id"].removeprefix("digest:") for b in message.get("blocks", [])
            if b.get("block_id", "").startswith("digest:")]


def count(store, fake: FakeSlack, channels: list[str]) -> dict:
    """Duplicates and losses per channel, from what Slack stored; and ledger rows whose ts is wrong."""
    figures = {"channels": len(channels), "messages_in_slack": 0, "duplicate_parents": 0, "duplicate_papers": 0,
               "lost_papers": 0, "ledger_mismatches": 0}
    with store.session_factory.begin() as session:
        rows = session.execute(select(DigestItem.channel, DigestItem.arxiv_id, DigestItem.message_ts)).all()
    for channel in channels:
        messages = fake.stored(channel)
        by_ts = {m["ts"]: m for m in messages}
        ids = Counter(i for m in messages for i in paper_ids(m))
        figures["messages_in_slack"] += len(messages)
        figures["duplicate_parents"] += max(0, sum(1 for m in messages if "thread_ts" not in m) - 1)
        figures["duplicate_papers"] += sum(n - 1 for n in ids.values())
        figures["lost_papers"] += SEED_ON_TOPIC - len(ids)
        figures["ledger_mismatches"] += sum(
            1 for c, arxiv_id, ts in rows
            if c == channel and (ts is None or arxiv_id not in paper_ids(by_ts.get(ts, {}))))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=20250321)
    parser.add_argument("--answer-delay", type=float, default=0.4, help="seconds the fake Slack takes to answer")
    parser.add_argument("--pace", type=float, default=0.5, help="DIGEST_PACE_SECONDS of the runs")
    parser.add_argument("--database-url", help="default: a SQLite file in a temp dir")
    parser.add_argument("--code", help="run the digest from this checkout instead (PYTHONPATH), to compare")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        database_url = normalise_database_url(args.database_url or f"sqlite:///{tmp}/kill-loop.db")
        store = build_store(Settings(database_url=database_url))
        with store.session_factory.begin() as session:  # a PostgreSQL database is reused: start clean
            session.execute(DigestItem.__table__.delete())
            session.execute(DigestRun.__table__.delete())
        ingest_feed_file(store.session_factory, SEED_FEED)
        fake = FakeSlack(answer_delay=args.answer_delay).start()
        try:
            env = child_env(database_url, fake, args.pace, args.code)
            tally = Tally(channels=["C0KILL01"])
            while tally.kills < args.kills:
                if tally.runs >= 10 * args.kills:  # every run ended before its kill: the loop would never stop
                    raise SystemExit(f"{tally.runs} runs ended on their own before their kill; nothing was tested")
                if not one_killed_run(store, fake, env, tally.channels[-1], rng, tally):
                    tally.finished_on_their_own += 1
                    tally.channels.append(f"C0KILL{len(tally.channels) + 1:02d}")
            finals = [run_to_the_end(store, env, channel) for channel in tally.channels]
            figures = count(store, fake, tally.channels)
        finally:
            fake.stop()
            store.engine.dispose()
    figures.update(kills=tally.kills, early_kills=tally.early_kills, kills_in_the_window=tally.in_the_window,
                   runs=tally.runs + len(tally.channels),
                   seconds=round(time.monotonic() - started, 1), reruns=finals)
    print(json.dumps(figures, indent=2))
    ok = figures["duplicate_parents"] == figures["duplicate_papers"] == figures["lost_papers"] == 0
    ok = ok and figures["ledger_mismatches"] == 0
    print(f"kill -9 loop: {tally.kills} kills, {figures['duplicate_papers'] + figures['duplicate_parents']} "
          f"duplicates, {figures['lost_papers']} losses -> {'OK' if ok else 'FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
