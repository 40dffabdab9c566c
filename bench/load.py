"""Load test: the real server (`papers-bot serve`: waitress + Bolt) under signed `/papers` requests and clicks.

    python bench/load.py --papers 20000 --requests 2000 --concurrency 20
    python bench/load.py --papers 20000 --requests 2000 --concurrency 20 \\
        --database-url postgresql://postgres@127.0.0.1:5432/papers_load

It fills the database with synthetic papers (bench/corpus.py; the 87 seed papers are planted in it, so
topical queries have real hits), starts `papers-bot serve --no-scheduler` as a child process on a loopback
port with the loopback fake Slack (tests/fakes) as its Web API and response_url, then fires signed,
real-shaped requests at the given concurrency: mostly `/papers` searches, plus More, Share and Mark read
clicks. It reports, per kind and overall:

- ack latency: the HTTP round trip Slack itself waits for (must stay far inside 3 s);
- reply latency: from sending the request until the answer reached the response_url (or, for Share,
  chat.postMessage) -- what the user waits for;
- throughput and errors (a non-200, a missing reply after 10 s, or an apology instead of an answer).

A database that already holds at least --papers papers is reused as it is (the load is not repeated).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bot.app import build_store  # noqa: E402
from bot.config import Settings, normalise_database_url  # noqa: E402
from bot.ingest import ingest_records  # noqa: E402
from bot.render_blocks.common import MARK_READ, SEARCH_MORE, SEARCH_SHARE  # noqa: E402
from db.papers import count_papers  # noqa: E402
from tests.fakes.slack_api import BOT_TOKEN, FakeSlack  # noqa: E402
from tests.slack_requests import SIGNING_SECRET, block_actions_body, signed_headers, slash_command_body  # noqa: E402

# What people type: topical words (a few hundred hits), very common words (thousands), filters,
# phrases, exclusions, no-match queries, and help.
QUERIES = (
    "kv cache", "KV-cache compression", "key-value cache", "pruning", "prune", "quantization", "quantized",
    "sparse attention", "speculative decoding", "large language model inference", '"mixture of experts"',
    "diffusion transformer", "graph neural network -survey", "model", "learning", "data",
    "cat:cs.LG transformer", "since:2025-03-01 pruning", "author:Wang", "unread quantization",
    "llm acceleration", "low-bit", "sparsity", "xyzzy plugh", "help", "risc-v",
)
SEED_IDS = ("2503.14881", "2503.11816", "2503.12491", "2503.11164", "2503.15465", "2503.13565")
APOLOGY_MARK = "Sorry"


@dataclass
class Result:
    kind: str
    ack_ms: float
    reply_ms: float | None
    ok: bool
    note: str = ""


def load_papers(database_url: str, n: int, seed: int) -> int:
    """Bring the store to at least n papers; returns the count."""
    store = build_store(Settings(database_url=database_url))
    with store.session_factory.begin() as session:
        have = count_papers(session)
    if have >= n:
        store.engine.dispose()
        return have
    from bench.corpus import generate_papers

    started = time.monotonic()
    batch = []
    for paper in generate_papers(n, seed):
        batch.append(paper)
        if len(batch) == 2000:
            ingest_records(store.session_factory, batch)
            batch = []
    if batch:
        ingest_records(store.session_factory, batch)
    with store.session_factory.begin() as session:
        have = count_papers(session)
    print(f"loaded {have} papers in {time.monotonic() - started:.1f} s", file=sys.stderr)
    store.engine.dispose()
    return have


def start_server(database_url: str, fake: FakeSlack, port: int) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGEST_", "DATABASE_"))},
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.base_url,
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--no-scheduler", "--port", str(port)], env=env, cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the server did not become healthy within 60 s")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Load:
    def __init__(self, url: str, fake: FakeSlack, seed: int):
        self.url = url
        self.fake = fake
        self.rng = random.Random(seed)
        self.local = threading.local()
        self.counter = 0
        self.lock = threading.Lock()
        self.watcher = ReplyWatcher(fake)

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
        return self.local.session

    def _key(self) -> str:
        with self.lock:
            self.counter += 1
            return f"load{self.counter}"

    def plan(self, count: int) -> list[tuple[str, str]]:
        """(kind, value) for each request: 80% searches, 10% More, 5% Share, 5% Mark read."""
        kinds = []
        for _ in range(count):
            roll = self.rng.random()
            if roll < 0.80:
                kinds.append(("search", self.rng.choice(QUERIES)))
            elif roll < 0.90:
                query = self.rng.choice(QUERIES[:12])
                kinds.append(("more", json.dumps({"q": query, "o": 5}, separators=(",", ":"))))
            elif roll < 0.95:
                kinds.append(("share", self.rng.choice(SEED_IDS)))
            else:
                kinds.append(("mark_read", self.rng.choice(SEED_IDS)))
        return kinds

    def fire(self, item: tuple[str, str], user: str) -> Result:
        kind, value = item
        key = self._key()
        response_url = self.fake.response_url(key)
        if kind == "search":
            body = slash_command_body(value, response_url=response_url, user_id=user)
        else:
            action_id = {"more": SEARCH_MORE, "share": SEARCH_SHARE, "mark_read": MARK_READ}[kind]
            action = {"type": "button", "action_id": action_id, "value": value,
                      "text": {"type": "plain_text", "text": kind}}
            container = {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C0LOAD",
                         "is_ephemeral": True}
            body = block_actions_body(action, user_id=user, channel_id="C0LOAD", response_url=response_url,
                                      container=container)
        started = time.monotonic()
        try:
            response = self._session().post(f"{self.url}/slack/events", data=body.encode(),
                                            headers=signed_headers(body), timeout=10)
            status = response.status_code
        except requests.RequestException as err:
            return Result(kind, (time.monotonic() - started) * 1000, None, False, f"request failed: {err}")
        ack_ms = (time.monotonic() - started) * 1000
        if status != 200:
            return Result(kind, ack_ms, None, False, f"HTTP {status}")
        return self._await_reply(kind, key, user, started, ack_ms)

    def _await_reply(self, kind: str, key: str, user: str, started: float, ack_ms: float) -> Result:
        call = self.watcher.wait(f"share:{user}:{started}" if kind == "share" else f"/response/{key}", started)
        if call is None:
            return Result(kind, ack_ms, None, False, "no reply within 10 s")
        text = call.args.get("text", "")
        ok = call.ok and APOLOGY_MARK not in text
        return Result(kind, ack_ms, (call.at - started) * 1000, ok, "" if ok else f"reply: {text[:80]}")


class ReplyWatcher:
    """Indexes what reaches the fake Slack as it arrives, so waiting for a reply costs no list scans.

    Latency is taken from the fake's own arrival time stamp, so how often this looks does not matter.
    """

    def __init__(self, fake: FakeSlack):
        self.fake = fake
        self.seen = 0
        self.by_path: dict[str, object] = {}
        self.shares: dict[str, list] = {}
        self.cond = threading.Condition()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopped:
            with self.fake._lock:
                fresh = self.fake.calls[self.seen :]
                self.seen += len(fresh)
            if fresh:
                with self.cond:
                    for call in fresh:
                        if call.method == "response_url":
                            self.by_path[call.path] = call
                        elif call.method == "chat.postMessage":
                            text = call.args.get("text", "")
                            user = text[2 : text.index(">")] if text.startswith("<@") and ">" in text else ""
                            self.shares.setdefault(user, []).append(call)
                    self.cond.notify_all()
            time.sleep(0.002)

    def wait(self, key: str, started: float, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                if key.startswith("share:"):
                    user = key.split(":")[1]
                    calls = [c for c in self.shares.get(user, []) if c.at >= started]
                    if calls:
                        self.shares[user].remove(calls[0])
                        return calls[0]
                elif key in self.by_path:
                    return self.by_path.pop(key)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)

    def stop(self) -> None:
        self.stopped = True


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process (Linux /proc); None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summarise(results: list[Result], wall: float) -> dict:
    def figures(subset: list[Result]) -> dict:
        acks = [r.ack_ms for r in subset]
        replies = [r.reply_ms for r in subset if r.reply_ms is not None]
        return {
            "count": len(subset),
            "errors": sum(not r.ok for r in subset),
            "ack_ms": {f"p{p}": round(percentile(acks, p), 1) for p in (50, 95, 99)} | {"max": round(max(acks), 1)},
            "reply_ms": {f"p{p}": round(percentile(replies, p), 1) for p in (50, 95, 99)}
            | {"max": round(max(replies), 1) if replies else None},
            "mean_reply_ms": round(statistics.fmean(replies), 1) if replies else None,
        }

    kinds = sorted({r.kind for r in results})
    return {
        "overall": figures(results) | {"throughput_rps": round(len(results) / wall, 1), "wall_s": round(wall, 2)},
        **{kind: figures([r for r in results if r.kind == kind]) for kind in kinds},
        "error_notes": sorted({r.note for r in results if not r.ok})[:10],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=20_000, help="papers in the store (default 20000)")
    parser.add_argument("--requests", type=int, default=2000, help="requests to send (default 2000)")
    parser.add_argument("--concurrency", type=int, default=20, help="requests in flight (default 20)")
    parser.add_argument("--database-url", help="default: a SQLite file in a temporary directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="papers-load-") as tmp:
        database_url = normalise_database_url(args.database_url or f"sqlite:///{Path(tmp) / 'papers.db'}")
        papers = load_papers(database_url, args.papers, args.seed)
        fake = FakeSlack().start()
        port = free_port()
        server = start_server(database_url, fake, port)
        try:
            load = Load(f"http://127.0.0.1:{port}", fake, args.seed)
            plan = load.plan(args.requests)
            warm = load.plan(min(50, args.requests))
            with ThreadPoolExecutor(args.concurrency) as pool:  # warm the connection pools first
                list(pool.map(lambda item: load.fire(item, "U0WARM"), warm))
                cpu_before = process_cpu_seconds(server.pid)
                started = time.monotonic()
                users = [f"U0USER{n % 50:02d}" for n in range(len(plan))]
                results = list(pool.map(load.fire, plan, users))
                wall = time.monotonic() - started
                cpu_after = process_cpu_seconds(server.pid)
        finally:
            load.watcher.stop()
            server.terminate()
            server.wait(timeout=10)
            fake.stop()
    summary = summarise(results, wall)
    if cpu_before is not None and cpu_after is not None:
        # The server's own CPU per request (its database work included for SQLite, not PostgreSQL's).
        summary["overall"]["server_cpu_ms_per_request"] = round((cpu_after - cpu_before) * 1000 / len(results), 1)
    dialect = database_url.split(":", 1)[0].split("+", 1)[0]
    header = {"database": dialect, "papers": papers, "requests": args.requests, "concurrency": args.concurrency}
    if args.json:
        print(json.dumps(header | summary, indent=2))
    else:
        print(f"{dialect}, {papers} papers, {args.requests} requests at concurrency {args.concurrency}: "
              f"{summary['overall']['throughput_rps']} requests/s, {summary['overall']['errors']} errors, "
              f"server CPU {summary['overall'].get('server_cpu_ms_per_request', '?')} ms a request, "
              f"{os.cpu_count()} CPUs")
        print(f"{'kind':<10} {'count':>6} {'errors':>6}   ack p50/p95/p99 ms        reply p50/p95/p99 ms")
        for kind in ("overall", *sorted(k for k in summary if k not in ("overall", "error_notes"))):
            row = summary[kind]
            ack, reply = row["ack_ms"], row["reply_ms"]
            print(f"{kind:<10} {row['count']:>6} {row['errors']:>6}   "
                  f"{ack['p50']:>6} {ack['p95']:>6} {ack['p99']:>6}      "
                  f"{reply['p50']:>6} {reply['p95']:>6} {reply['p99']:>6}")
        for note in summary["error_notes"]:
            print(f"  error: {note}")
    return 0 if summary["overall"]["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
