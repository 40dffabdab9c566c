"""The benchmark: ingest, search (the index, the SQL path, baselines), digest build and serve memory, side by
side in one run.

    python bench/run.py --sizes 10000,100000 [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
    python bench/run.py --smoke          # 1,000 papers, SQLite, a few repeats: proves the script still runs

Every figure that matters is a ratio between things measured in the same run (ingest vs the arxiv
package's parser alone; each baseline vs our search), because shared machines are noisy.
Baselines that need the `bench` extra (scikit-learn, rank-bm25, numpy) are skipped with a note when
it is not installed; so is anything a missing app module would need.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from arxiv import _feed as arxiv_feed  # noqa: E402
from sqlalchemy import text  # noqa: E402

from bench.corpus import generate_papers, write_atom_pages  # noqa: E402
from bot.app import build_store  # noqa: E402
from bot.arxiv_source import read_feed_file  # noqa: E402
from bot.config import Settings, normalise_database_url  # noqa: E402
from bot.ingest import FetchReport, store_page  # noqa: E402

PAGE_SIZE = 1000  # the app's default ARXIV_PAGE_SIZE
RESULT_LIMIT = 5  # what /papers shows
DIGEST_DAY = date(2025, 3, 24)  # after the corpus' last day, so the digest's 600 papers are alone on it
DIGEST_PAPERS = 600

# Fixed query set: single words, phrases, hyphenated, filtered, negated. Seed papers make each one
# have true hits at every size; the synthetic text makes common words genuinely common.
QUERIES: tuple[str, ...] = (
    "quantization",
    "pruning",
    "sparse",
    "transformer",
    "diffusion",
    "llm",
    "accelerator",
    "distillation",
    "mamba",
    "learning",  # a generic word in about half the papers: the worst case for ranking
    '"kv cache"',
    '"kv cache compression"',
    '"speculative decoding"',
    '"language models"',
    "kv-cache",
    "low-bit",
    "risc-v",
    "vision-language",
    "on-device llm inference",
    "sparse autoencoders unlearning",
    "model compression efficient finetuning",
    "quantization -diffusion",
    "pruning -llm",
    "cat:cs.LG quantization",
    "cat:cs.CV sparse",
    "author:Chen kv cache",
    'author:"Bo Chen"',
    "since:2025-03-15 pruning",
    "since:2025-01-01 cat:cs.LG transformer -vision",
    "efficient inference",
)


# -- small helpers ---------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def rss_mb(pid: int | str = "self", field_name: str = "VmRSS") -> float:
    """Resident memory from /proc (Linux), in MB; VmHWM is the peak."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def note(message: str) -> None:
    print(f"  note: {message}", file=sys.stderr, flush=True)


def progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


@dataclass
class Timing:
    """Per-query latencies over several passes of the query set."""

    samples_ms: list[float] = field(default_factory=list)
    per_query_ms: dict[str, list[float]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    load_before: float = float("nan")
    load_after: float = float("nan")

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples_ms, 99)

    @property
    def one_pass_ms(self) -> float:
        """Median time of one pass over the whole query set."""
        return sum(percentile(v, 50) for v in self.per_query_ms.values())


def loadavg() -> float:
    """The machine's 1-minute load average: other sessions share its two cores."""
    with open("/proc/loadavg") as load:
        return float(load.read().split()[0])


def time_queries(run_one: Callable[[str], int], queries: Sequence[str], repeats: int,
                 warm_up: bool = True) -> Timing:
    timing = Timing(load_before=loadavg())
    if warm_up:
        for query in queries:  # warm-up pass: caches, compiled statements, page cache
            timing.hits[query] = run_one(query)
    for _ in range(repeats):
        for query in queries:
            began = time.perf_counter()
            hits = run_one(query)
            timing.hits.setdefault(query, hits)
            elapsed = (time.perf_counter() - began) * 1000
            timing.samples_ms.append(elapsed)
            timing.per_query_ms.setdefault(query, []).append(elapsed)
    timing.load_after = loadavg()
    return timing


# -- a plain query parser for the baselines (ours is bot.search) ----------------------------------------

_TOKEN_RE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"|(\S+))')
_WORD_RE = re.compile(r"\w+")


@dataclass
class PlainQuery:
    terms: list[str] = field(default_factory=list)  # words or phrases, lowercased
    negated: list[str] = field(default_factory=list)
    author: str | None = None
    category: str | None = None
    since: datetime | None = None

    @property
    def words(self) -> list[str]:
        return [w for term in self.terms for w in _WORD_RE.findall(term)]


def parse_plain(query: str) -> PlainQuery:
    parsed = PlainQuery()
    for minus, key, quoted, bare in _TOKEN_RE.findall(query):
        value = (quoted or bare).strip()
        if not value:
            continue
        key = key.lower()
        if key == "author":
            parsed.author = value.lower()
        elif key == "cat":
            parsed.category = value
        elif key == "since":
            parsed.since = datetime.fromisoformat(value).replace(tzinfo=UTC)
        elif minus:
            parsed.negated.append(value.lower())
        else:
            parsed.terms.append(value.lower())
    return parsed


# -- corpus and ingest ------------------------------------------------------------------------------------


@dataclass
class Backend:
    name: str  # "SQLite" | "PostgreSQL"
    url: str
    drop: Callable[[], None] | None = None


def sqlite_backend(directory: Path, n: int | str, *, scratch: bool = False) -> Backend:
    path = directory / f"papers-{n}.db"

    def remove() -> None:
        for leftover in directory.glob(f"papers-{n}.db*"):
            leftover.unlink()

    remove()
    return Backend("SQLite", f"sqlite:///{path}", drop=remove if scratch else None)


def postgres_backend(admin_url: str, n: int | str, prefix: str = "papers_bench") -> Backend:
    """A database of our own on the given server, dropped afterwards."""
    import psycopg

    admin_url = normalise_database_url(admin_url).replace("postgresql+psycopg://", "postgresql://")
    name = f"{prefix}_{n}_{os.getpid()}"
    with closing(psycopg.connect(admin_url, autocommit=True)) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    def drop() -> None:
        with closing(psycopg.connect(admin_url, autocommit=True)) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return Backend("PostgreSQL", normalise_database_url(url), drop)


def measure_parser(pages: Sequence[Path]) -> float:
    """papers/s of the arxiv package's Atom parser alone: the ceiling for ingest."""
    return measure_parser_cpu(pages)[0]


def measure_parser_cpu(pages: Sequence[Path]) -> tuple[float, float]:
    """(papers per second, papers per CPU-second) of the parser alone."""
    count = 0
    began, cpu = time.perf_counter(), time.process_time()
    for page in pages:
        count += len(arxiv_feed.parse(page.read_bytes()).results)
    return count / (time.perf_counter() - began), count / (time.process_time() - cpu)


# -- CPU seconds of every process that works on an ingest: this one, its children (the parsing worker), and on
# PostgreSQL the server processes of this database (same machine). The machine is shared and its speed drifts
# by 3x within minutes, so wall-clock ratios are noisy; CPU seconds say what two free cores would do.

def _proc_cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _server_cpu(store) -> dict[int, float]:
    if store.engine.dialect.name != "postgresql":
        return {}
    with store.engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
        return {pid: _proc_cpu_seconds(pid) for pid in pids}


@contextmanager
def cpu_meter(store):
    """Yields a dict that gets main_s, children_s and server_s: CPU seconds spent inside the block; and
    server_max_s, the busiest server process's share of server_s."""
    figures: dict = {}
    server, main, children = _server_cpu(store), time.process_time(), _children_cpu_seconds()
    yield figures
    backends = [cpu - server.get(pid, 0.0) for pid, cpu in _server_cpu(store).items()]
    figures.update(main_s=time.process_time() - main, children_s=_children_cpu_seconds() - children,
                   server_s=sum(backends), server_max_s=max(backends, default=0.0))


def measure_bulk_ingest(store, pages: Sequence[Path], expected: int, *, vector_pass: bool = True) -> dict:
    """papers/s through the bulk path (bot.bulk_ingest): pages parsed in a worker process while this one
    stores the previous page with a multi-row INSERT (SQLite) or COPY (PostgreSQL); then, with `vector_pass`,
    the vector pass timed on its own."""
    from bot import bulk_ingest

    load_before, began = loadavg(), time.perf_counter()
    with cpu_meter(store) as cpu:
        report = bulk_ingest.ingest_feed_files(store.session_factory, pages, vectors=False)
    elapsed = time.perf_counter() - began
    if report.counts.new != expected:
        raise RuntimeError(f"bulk ingest stored {report.counts.new} papers, expected {expected}: {report.summary()}")
    # On two free cores the worker parses while this process and the server store: the slower side sets the pace.
    # On PostgreSQL the load is stored over several connections, whose server processes run side by side: that
    # side is then this process plus the busiest of them, and no faster than all the work spread over both cores.
    # Over one connection this is the slower side as before (this process plus its server process).
    total = cpu["children_s"] + cpu["main_s"] + cpu["server_s"]
    bound = max(cpu["children_s"], cpu["main_s"] + cpu["server_max_s"], total / 2)
    figures = {"per_s": expected / elapsed, "cpu": cpu, "two_cores_per_s": expected / bound, "seconds": elapsed,
               "load": [load_before, loadavg()]}
    if not vector_pass:
        return figures
    # The pass right after the load: every paper's recommendation vector, encoded in worker processes.
    load_before, began = loadavg(), time.perf_counter()
    with cpu_meter(store) as cpu:
        made = bulk_ingest.store_vectors(store.session_factory)
    seconds = time.perf_counter() - began
    if made != expected:
        raise RuntimeError(f"the vector pass stored {made} vectors, expected {expected}")
    # Two cores: the encoding workers share them; this process and the server read texts and store vectors.
    vector_bound = max(cpu["children_s"] / 2, cpu["main_s"] + cpu["server_s"])
    figures["vectors"] = {"per_s": expected / seconds, "seconds": seconds, "cpu": cpu,
                          "two_cores_per_s": expected / vector_bound, "load": [load_before, loadavg()]}
    return figures


def measure_page_ingest(backend: Backend, pages: Sequence[Path]) -> dict | None:
    """The page-by-page path (`fetch`'s: bot.ingest.store_page) on a scratch database, for comparison."""
    try:
        store = build_store(Settings(database_url=backend.url, search_engine="sql"))
        figures = measure_ingest(store, pages, sum(len(arxiv_feed.parse(p.read_bytes()).results) for p in pages))
        store.engine.dispose()
        return figures
    finally:
        if backend.drop:
            backend.drop()


def measure_ingest(store, pages: Sequence[Path], expected: int) -> dict:
    """papers/s through parse → upsert → index, one transaction per page, as `fetch` does; and how that
    time splits between reading the page (the arxiv parser plus our record conversion) and storing it."""
    report = FetchReport()
    reading = storing = 0.0
    with cpu_meter(store) as cpu:
        for page in pages:
            began = time.perf_counter()
            items = read_feed_file(page)
            parsed = time.perf_counter()
            store_page(store.session_factory, items, report)
            reading += parsed - began
            storing += time.perf_counter() - parsed
    if report.counts.new != expected:
        raise RuntimeError(f"ingest stored {report.counts.new} new papers, expected {expected}: {report.summary()}")
    return {"per_s": expected / (reading + storing), "read_per_s": expected / reading,
            "store_per_s": expected / storing, "cpu": cpu,
            "two_cores_per_s": expected / (cpu["main_s"] + cpu["server_s"])}  # one process: parse then store


# -- our search and the baselines -------------------------------------------------------------------------


def app_search(store) -> Callable[[str], int] | None:
    """The app's search (bot.search.search_papers) on this store: its SEARCH_ENGINE decides the engine."""
    try:
        from bot.search import BadQuery, search_papers
    except ImportError as missing:
        note(f"bot.search is not importable ({missing}); the app's search is skipped")
        return None

    def run_one(query: str) -> int:
        try:
            with store.session_factory.begin() as session:
                result = search_papers(session, query=query, limit=RESULT_LIMIT, offset=0, team_id=None,
                                       user_id=None)
        except BadQuery:  # a query the app refuses is answered too; it counts, with no hits
            return -1
        return _hit_count(result)

    return run_one


def judged_relevance(store) -> dict | None:
    """precision@k of tests/search/test_relevance.py's judged queries (the seed papers are planted in the corpus)."""
    try:
        from bot.search import search_papers
        from tests.search.test_relevance import JUDGED
    except ImportError as missing:
        note(f"judged relevance skipped ({missing})")
        return None
    figures = {}
    for query, relevant in JUDGED.items():
        k = min(RESULT_LIMIT, len(relevant))
        with store.session_factory.begin() as session:
            found = [hit.paper.arxiv_id for hit in search_papers(session, query=query, limit=k).hits]
        figures[query] = sum(arxiv_id in relevant for arxiv_id in found) / k
    return {"mean": sum(figures.values()) / len(figures), "min": min(figures.values()), "per_query": figures}


def _index_build_child(url: str, directory: str, conn) -> None:
    from bot import search_index

    store = build_store(Settings(database_url=url, search_index_dir=directory), migrate=False)
    base = rss_mb()
    index = search_index.index_for(store.engine)
    began = time.perf_counter()
    index.sync()
    seconds = time.perf_counter() - began
    if not index.is_current():
        raise RuntimeError("the index is not current right after its build")
    conn.send({"build_s": seconds, "memory_mb": rss_mb(field_name="VmHWM") - base})


def directory_mb(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**20


def measure_index(url: str, directory: Path, n: int):
    """Build the search index from the store in a child process (time, peak memory), then open it here."""
    from bot import search_index

    shutil.rmtree(directory, ignore_errors=True)
    built = run_in_child(_index_build_child, url, str(directory))
    if built is None:
        return None, None
    built.update(size_mb=directory_mb(directory), per_s=n / built["build_s"])
    store = build_store(Settings(database_url=url, search_index_dir=str(directory)), migrate=False)
    if not search_index.index_for(store.engine).wait_until_current():
        note("the index did not catch up with the store")
    return store, built


def _hit_count(result) -> int:
    for name in ("total", "total_matches", "count"):
        value = getattr(result, name, None)
        if isinstance(value, int):
            return value
    for name in ("hits", "results", "papers"):
        value = getattr(result, name, None)
        if value is not None:
            return len(value)
    try:
        return len(result)
    except TypeError:
        return -1


def like_search(store) -> Callable[[str], int]:
    """The naive approach: substring LIKE over title and abstract, newest first, with a total count."""
    dialect = store.engine.dialect.name
    like = "ILIKE" if dialect == "postgresql" else "LIKE"

    def run_one(query: str) -> int:
        parsed = parse_plain(query)
        where, params = [], {}
        for i, term in enumerate(parsed.terms):
            params[f"t{i}"] = f"%{term}%"
            where.append(f"(title {like} :t{i} OR abstract {like} :t{i})")
        for i, term in enumerate(parsed.negated):
            params[f"n{i}"] = f"%{term}%"
            where.append(f"NOT (title {like} :n{i} OR abstract {like} :n{i})")
        if parsed.author:
            params["author"] = f"%{parsed.author}%"
            where.append(f"author_names {like} :author")
        if parsed.category:
            params["cat"] = f"% {parsed.category} %"
            where.append("(' ' || categories || ' ') LIKE :cat")
        if parsed.since:
            params["since"] = parsed.since.replace(tzinfo=None) if dialect == "sqlite" else parsed.since
            where.append("published >= :since")
        sql = (
            "SELECT arxiv_id, count(*) OVER () FROM papers"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY published DESC LIMIT {RESULT_LIMIT}"
        )
        with store.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        return rows[0][1] if rows else 0

    return run_one


def _load_corpus(url: str):
    store = build_store(Settings(database_url=url), migrate=False)
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT arxiv_id, title, abstract, author_names, categories, published FROM papers ORDER BY id")
        ).all()
    store.engine.dispose()
    return rows


class _Masks:
    """Filters for the in-memory baselines: per-paper arrays scanned per query, as such a tool would."""

    def __init__(self, rows):
        import numpy as np

        self.np = np
        self.authors = [r[3].lower() for r in rows]
        self.categories = [f" {r[4]} " for r in rows]
        published = [r[5] if isinstance(r[5], datetime) else datetime.fromisoformat(str(r[5])) for r in rows]
        self.published = np.array([p.replace(tzinfo=None) for p in published], dtype="datetime64[s]")

    def mask(self, parsed: PlainQuery):
        np = self.np
        keep = np.ones(len(self.authors), dtype=bool)
        if parsed.author:
            keep &= np.fromiter((parsed.author in a for a in self.authors), dtype=bool, count=len(self.authors))
        if parsed.category:
            wanted = f" {parsed.category} "
            keep &= np.fromiter((wanted in c for c in self.categories), dtype=bool, count=len(self.categories))
        if parsed.since:
            keep &= self.published >= np.datetime64(parsed.since.replace(tzinfo=None), "s")
        return keep


def _top(np, scores, keep) -> int:
    """Mask, pick the best RESULT_LIMIT in order (the work a reply needs), return the match count."""
    scores = np.where(keep, scores, 0.0)
    matched = int(np.count_nonzero(scores > 0))
    if matched:
        k = min(RESULT_LIMIT, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        _ = top[np.argsort(-scores[top])]
    return matched


def _tfidf_child(url: str, queries: Sequence[str], repeats: int, conn) -> None:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    base = rss_mb()
    began = time.perf_counter()
    rows = _load_corpus(url)
    vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32)
    matrix = vectorizer.fit_transform(f"{r[1]} {r[1]} {r[2]}" for r in rows)  # title counted twice
    columns = matrix.tocsc()
    masks = _Masks(rows)
    build = time.perf_counter() - began
    vocabulary = vectorizer.vocabulary_

    def run_one(query: str) -> int:
        parsed = parse_plain(query)
        keep = masks.mask(parsed)
        for term in parsed.negated:
            for word in _WORD_RE.findall(term):
                col = vocabulary.get(word)
                if col is not None:
                    keep[columns.indices[columns.indptr[col] : columns.indptr[col + 1]]] = False
        words = " ".join(parsed.words)
        if words:
            scores = np.asarray((matrix @ vectorizer.transform([words]).T).todense()).ravel()
        else:  # filters only: newest first, as ours does
            scores = keep.astype(np.float32)
        return _top(np, scores, keep)

    timing = time_queries(run_one, queries, repeats)
    conn.send({"build_s": build, "memory_mb": rss_mb(field_name="VmHWM") - base, "timing": timing})


def _bm25_child(url: str, queries: Sequence[str], repeats: int, conn) -> None:
    import numpy as np
    from rank_bm25 import BM25Okapi

    base = rss_mb()
    began = time.perf_counter()
    rows = _load_corpus(url)
    index = BM25Okapi([_WORD_RE.findall(f"{r[1]} {r[1]} {r[2]}".lower()) for r in rows])
    masks = _Masks(rows)
    build = time.perf_counter() - began

    def run_one(query: str) -> int:
        parsed = parse_plain(query)
        keep = masks.mask(parsed)
        for term in parsed.negated:
            for word in _WORD_RE.findall(term):
                keep &= np.fromiter((word not in doc for doc in index.doc_freqs), dtype=bool, count=len(keep))
        words = parsed.words
        scores = index.get_scores(words) if words else keep.astype(np.float64)
        return _top(np, np.asarray(scores), keep)

    timing = time_queries(run_one, queries, repeats)
    conn.send({"build_s": build, "memory_mb": rss_mb(field_name="VmHWM") - base, "timing": timing})


def run_in_child(target, *args) -> dict | None:
    """Run a baseline in a forked process, so its memory is its own and freed afterwards."""
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child_wrapper, args=(target, child, *args))
    process.start()
    child.close()
    try:
        result = parent.recv()
    except EOFError:
        result = {"error": "the baseline process died"}
    process.join()
    if "error" in result:
        note(f"{target.__name__}: {result['error']}")
        return None
    return result


def _child_wrapper(target, conn, *args) -> None:
    try:
        target(*args, conn)
    except BaseException as error:  # noqa: BLE001 - reported to the parent as a note
        conn.send({"error": f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"})
    finally:
        conn.close()


def have(*modules: str) -> bool:
    import importlib

    missing = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        note(f"{', '.join(missing)} not installed (pip install -e '.[bench]'); that baseline is skipped")
    return not missing


# -- digest build ---------------------------------------------------------------------------------------


def digest_day_papers(n: int = DIGEST_PAPERS):
    """600 synthetic papers first published on DIGEST_DAY, with ids of their own."""
    base = datetime.combine(DIGEST_DAY, datetime.min.time(), tzinfo=UTC)
    from dataclasses import replace

    for i, paper in enumerate(generate_papers(n, seed=7)):
        moment = base + timedelta(seconds=(i * 86_000) // n)
        yield replace(paper, arxiv_id=f"2503.9{i:04d}", version=1, published=moment, updated=moment, pdf_url=None)


def measure_digest(store, database_url: str, repeats: int) -> dict | None:
    try:
        from bot import digest as digest_mod
        from bot.render_blocks import digest as digest_blocks
        from bot.render_markdown import render_digest_markdown
    except ImportError as missing:
        note(f"the digest modules are not importable ({missing}); digest build is skipped")
        return None
    settings = Settings(database_url=database_url, digest_lookback_days=0)  # one day: [D, D+1)
    per_reply = getattr(digest_mod, "PAPERS_PER_REPLY", 5)

    def build_once() -> tuple[int, int]:
        with store.session_factory.begin() as session:
            digest = digest_mod.select_digest(session, settings, team_id="", channel=None, digest_date=DIGEST_DAY)
        messages = [digest_blocks.digest_parent_message(digest, papers_per_reply=per_reply)]
        entries = list(digest.entries)
        for start in range(0, len(entries), per_reply):
            messages.append(digest_blocks.digest_reply_message(entries[start : start + per_reply],
                                                               digest.topic.keywords))
        render_digest_markdown(DIGEST_DAY, digest.papers, digest.topic.keywords)
        return len(entries), len(messages)

    build_once()
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        selected, messages = build_once()
        samples.append((time.perf_counter() - began) * 1000)
    return {"p50_ms": percentile(samples, 50), "max_ms": max(samples), "candidates": DIGEST_PAPERS,
            "selected": selected, "messages": messages}


# -- serve memory ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_serve(database_url: str, queries: Sequence[str], *, engine: str, index_dir: Path) -> dict | None:
    """Peak RSS of `papers-bot serve` after answering the query set as signed /papers requests."""
    try:
        import requests

        from tests.fakes.slack_api import BOT_TOKEN, FakeSlack
        from tests.slack_requests import SIGNING_SECRET, post, slash_command_body
    except ImportError as missing:
        note(f"cannot load the Slack fakes ({missing}); serve memory is skipped")
        return None
    fake = FakeSlack().start()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DIGEST_", "ARXIV_", "SEARCH_"))}
    env.update(DATABASE_URL=database_url, SLACK_BOT_TOKEN=BOT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SLACK_API_URL=fake.base_url, PORT=str(port), LOG_LEVEL="WARNING", SEARCH_ENGINE=engine,
               SEARCH_INDEX_DIR=str(index_dir))
    command = [sys.executable, "-m", "bot", "serve", "--port", str(port), "--no-scheduler"]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"serve exited: {process.stderr.read().decode()[-800:]}")
            try:
                if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("serve did not answer /healthz within 60 s")
            time.sleep(0.2)
        idle = rss_mb(process.pid)
        latencies, answered = [], 0
        for i, query in enumerate(queries):
            key = f"bench{i}"
            began = time.perf_counter()
            body = slash_command_body(query, response_url=fake.response_url(key))
            response = post(f"{base}/slack/events", body)
            if response.status_code != 200:
                raise RuntimeError(f"/papers {query!r} answered HTTP {response.status_code}")
            answered += _wait_for_response(fake, key, timeout=30)
            latencies.append((time.perf_counter() - began) * 1000)
        if answered < len(queries):
            note(f"serve: {len(queries) - answered} of {len(queries)} /papers requests got no reply at response_url")
        return {"idle_mb": idle, "peak_mb": rss_mb(process.pid, "VmHWM"), "rss_mb": rss_mb(process.pid),
                "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "answered": answered,
                "per_query_ms": dict(zip(queries, latencies, strict=True))}
    except RuntimeError as error:
        note(f"serve memory skipped: {error}")
        return None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        fake.stop()


def _wait_for_response(fake, key: str, timeout: float) -> bool:
    """The search reply arrives at response_url after the ack (lazy listener)."""
    deadline = time.monotonic() + timeout
    path = f"/response/{key}"
    while time.monotonic() < deadline:
        if any(call.path == path for call in fake.calls_to("response_url", ok=None)):
            return True
        time.sleep(0.002)
    return False


# -- one size -------------------------------------------------------------------------------------------


def run_size(n: int, args, workdir: Path, checkpoint: Callable[[dict], None] = lambda result: None) -> dict:
    result: dict = {"papers": n, "backends": {}}
    pages_dir = workdir / f"pages-{n}"
    reused = workdir / f"papers-{n}.db"
    if args.reuse and reused.exists():
        # Search-side iterations on a corpus already ingested by a --keep run: no corpus, no ingest.
        progress(f"{n:,} papers: reusing {reused}")
        pages, backends = [], [Backend("SQLite", f"sqlite:///{reused}")]
    else:
        pages = sorted(pages_dir.glob("*.xml")) if args.reuse_pages else []
        if len(pages) == -(-n // PAGE_SIZE):
            progress(f"{n:,} papers: reusing the corpus in {pages_dir}")
        else:
            shutil.rmtree(pages_dir, ignore_errors=True)
            progress(f"{n:,} papers: writing the corpus")
            began = time.perf_counter()
            pages = write_atom_pages(generate_papers(n, seed=args.seed), pages_dir, PAGE_SIZE)
            result["corpus_s"] = time.perf_counter() - began
        progress(f"{n:,}: corpus ready; timing the arxiv parser alone")
        result["parser_load"] = [loadavg()]
        result["parser_per_s"], result["parser_cpu_per_s"] = measure_parser_cpu(pages)
        result["parser_load"].append(loadavg())
        backends = [] if args.skip_sqlite else [sqlite_backend(workdir, n)]
        if args.pg_url:
            backends.append(postgres_backend(args.pg_url, n, args.pg_prefix))
    for backend in backends:
        entry: dict = {}
        result["backends"][backend.name] = entry
        try:
            store = build_store(Settings(database_url=backend.url, search_engine="sql"))
            if pages:
                measure_ingests(entry, store, backend, pages, n, args, workdir)
                checkpoint(result)
            if backend.name == "PostgreSQL":
                with store.engine.begin() as conn:
                    conn.execute(text("ANALYZE papers"))
            index_dir = workdir / f"index-{n}-{backend.name.lower()}"
            index_store = measure_search(entry, store, backend, index_dir, n, args)
            checkpoint(result)
            if args.like_max is None or n <= args.like_max:
                progress(f"{n:,} {backend.name}: LIKE scan")
                entry["like"] = time_queries(like_search(store), QUERIES, args.baseline_repeats,
                                             warm_up=not args.like_no_warm_up)
            else:
                note(f"LIKE scan skipped above {args.like_max:,} papers (--like-max)")
            if backend.name == "SQLite":
                if not args.no_memory_baselines and have("numpy", "sklearn"):
                    progress(f"{n:,}: tf-idf baseline")
                    entry["tfidf"] = run_in_child(_tfidf_child, backend.url, QUERIES, args.baseline_repeats)
                if not args.no_memory_baselines and n <= args.bm25_max and have("numpy", "rank_bm25"):
                    progress(f"{n:,}: BM25 baseline")
                    entry["bm25"] = run_in_child(_bm25_child, backend.url, QUERIES, args.baseline_repeats)
                elif n > args.bm25_max:
                    note(f"BM25 skipped above {args.bm25_max:,} papers (--bm25-max): its index is a dict per paper")
            progress(f"{n:,} {backend.name}: digest build")
            store_page(store.session_factory, list(digest_day_papers()), FetchReport())
            entry["digest"] = measure_digest(store, backend.url, args.digest_repeats)
            checkpoint(result)
            if not args.no_serve:
                entry["serve"] = {}
                for engine in ("index", "sql"):
                    if engine == "index" and index_store is None:
                        continue
                    if engine == "index":  # the digest's papers: let the index take them before serve opens it
                        index_of(index_store).wait_until_current()
                    progress(f"{n:,} {backend.name}: serve memory, {engine}")
                    entry["serve"][engine] = measure_serve(backend.url, QUERIES, engine=engine, index_dir=index_dir)
                    checkpoint(result)
            if index_store is not None:
                index_of(index_store).close()
                index_store.engine.dispose()
            store.engine.dispose()
        finally:
            if backend.drop:
                backend.drop()
    if not args.keep and pages:  # a reused database is the caller's
        shutil.rmtree(pages_dir, ignore_errors=True)
        for leftover in workdir.glob(f"papers-{n}.db*"):
            leftover.unlink()
    return result


def measure_ingests(entry: dict, store, backend: Backend, pages: Sequence[Path], n: int, args, workdir: Path):
    """The bulk path into the run's database, the page path on a scratch one (its first pages), and the
    parser again afterwards: the machine's speed drifts, so the ratio uses the parser before and after."""
    progress(f"{n:,} {backend.name}: bulk ingest")
    entry["ingest"] = measure_bulk_ingest(store, pages, n)
    progress(f"{n:,} {backend.name}: {entry['ingest']['per_s']:.0f} papers/s; the page-by-page path")
    some = pages[: max(1, args.page_ingest_max // PAGE_SIZE)]
    scratch = (sqlite_backend(workdir, f"{n}-pages", scratch=True) if backend.name == "SQLite"
               else postgres_backend(args.pg_url, f"{n}_pages", args.pg_prefix))
    entry["page_ingest"] = measure_page_ingest(scratch, some)
    entry["parser_after_per_s"], entry["parser_after_cpu_per_s"] = measure_parser_cpu(pages)
    entry["parser_after_load"] = loadavg()


def index_of(store):
    from bot import search_index

    return search_index.index_for(store.engine)


def measure_search(entry: dict, store, backend: Backend, index_dir: Path, n: int, args):
    """The SQL path and the index, same queries, same run; the index's build; judged relevance of both.
    Returns the index's store (None when it could not be built)."""
    sql = app_search(store)
    if sql:
        progress(f"{n:,} {backend.name}: searching, SQL path")
        entry["sql"] = time_queries(sql, QUERIES, args.repeats)
        entry.setdefault("relevance", {})["sql"] = judged_relevance(store)
    progress(f"{n:,} {backend.name}: building the search index")
    index_store, built = measure_index(backend.url, index_dir, n)
    if index_store is None:
        return None
    entry["index_build"] = built
    progress(f"{n:,} {backend.name}: index built in {built['build_s']:.1f} s, {built['size_mb']:.0f} MB; searching")
    index = index_of(index_store)
    entry["index"] = time_queries(app_search(index_store), QUERIES, args.repeats)
    entry.setdefault("relevance", {})["index"] = judged_relevance(index_store)
    if index.declined:
        note(f"{index.declined} searches fell back to SQL during the index timing")
    entry["index_answered"], entry["index_declined"] = index.answered, index.declined
    return index_store


# -- the report -----------------------------------------------------------------------------------------


def machine() -> dict:
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    info = {"cpu": cpu, "nproc": os.cpu_count(), "memory_gb": round(mem_gb, 1),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    return info


def _fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


SQL_LABELS = {"SQLite": "SQL path (FTS5)", "PostgreSQL": "SQL path (tsvector)"}


def render(results: list[dict], info: dict) -> str:
    lines = [
        f"Machine: {info['cpu']}, {info['nproc']} cores, {info['memory_gb']} GB; Python {info['python']}, "
        f"SQLite {info['sqlite']}" + (f", PostgreSQL {info['postgresql']}" if info.get("postgresql") else ""),
        "",
        *_render_ingest(results),
        *_render_search(results),
        *_render_index(results),
        *_render_serve(results),
    ]
    return "\n".join(lines)


def _render_ingest(results: list[dict]) -> list[str]:
    lines = [
        "Ingest. Bulk: pages parsed ten ahead in a worker process (a thread under 16 pages), stored by "
        "multi-row INSERT (SQLite) or COPY (PostgreSQL), "
        "5,000 papers a transaction (fewer in a load under 40,000, so it takes at least 8); then the vector pass "
        "(recommendation vectors, encoded in two worker processes); on PostgreSQL over two connections, papers "
        "split by id, the GIN index's pending list merged beside the load (rebuilt after it from 2,000,000 "
        "papers). Page by page: `fetch`'s path (read, "
        "store_page, vectors), on a scratch database, over the first pages only. Wall: papers/s as timed, ÷ the "
        "parser's mean of before and after. Two cores: papers per CPU-second of the slower side (worker; this "
        "process + the busiest PostgreSQL process; all of it over two cores), ÷ the parser's papers per "
        "CPU-second. Load: 1-minute load average before / after the bulk load (2 cores).",
        "",
        "| papers | database | parser papers/s (before / after) | parser per CPU-s | bulk, wall | ÷ parser | "
        "bulk, two cores | ÷ parser | vector pass, wall | bulk + vectors, wall ÷ parser | page by page, wall | "
        "÷ parser | page by page, two cores | ÷ parser | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for name, b in r["backends"].items():
            if "ingest" not in b:
                continue
            before, after = r["parser_per_s"], b.get("parser_after_per_s", r["parser_per_s"])
            parser = (before + after) / 2
            parser_cpu = (r["parser_cpu_per_s"] + b.get("parser_after_cpu_per_s", r["parser_cpu_per_s"])) / 2
            cells = [f"{before:,.0f} / {after:,.0f}", f"{parser_cpu:,.0f}"]
            bulk, vectors = b["ingest"], b["ingest"].get("vectors")
            cells += _ingest_cells(bulk, parser, parser_cpu)
            if vectors:
                both = r["papers"] / (bulk["seconds"] + vectors["seconds"])
                cells += [f"{vectors['per_s']:,.0f}", f"{both / parser:.2f}"]
            else:
                cells += ["—"] * 2
            cells += _ingest_cells(b.get("page_ingest"), parser, parser_cpu)
            load = bulk.get("load")
            cells.append(f"{load[0]:.1f} / {load[1]:.1f}" if load else "—")
            lines.append(f"| {r['papers']:,} | {name} | " + " | ".join(cells) + " |")
    return lines


def _ingest_cells(figures: dict | None, parser: float, parser_cpu: float) -> list[str]:
    if figures is None:
        return ["—"] * 4
    return [f"{figures['per_s']:,.0f}", f"{figures['per_s'] / parser:.2f}",
            f"{figures['two_cores_per_s']:,.0f}", f"{figures['two_cores_per_s'] / parser_cpu:.2f}"]


def _render_search(results: list[dict]) -> list[str]:
    lines = [
        "",
        f"Search: {len(QUERIES)} queries, limit {RESULT_LIMIT}, in-process; times in ms; ×index = engine ÷ the "
        "index (higher means the index is faster); 'set+build' = one pass over the query set plus the "
        "baseline's build, ÷ the index's one pass",
        "",
        "| papers | database | engine | p50 | p99 | p50 ×index | p99 ×index | build s | memory MB | set+build ×index "
        "| load |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        for name, b in r["backends"].items():
            ours: Timing | None = b.get("index")
            rows = [("index (tantivy)", ours, None), (SQL_LABELS[name], b.get("sql"), None),
                    ("LIKE scan", b.get("like"), None)]
            for key, label in (("tfidf", "tf-idf (sklearn)"), ("bm25", "BM25 (rank-bm25)")):
                if b.get(key):
                    rows.append((label, b[key]["timing"], b[key]))
            for label, timing, extra in rows:
                if timing is None:
                    continue
                other = ours is not None and timing is not ours
                ratio50 = f"{timing.p50 / ours.p50:,.1f}" if other else ""
                ratio99 = f"{timing.p99 / ours.p99:,.1f}" if other else ""
                build = f"{extra['build_s']:.1f}" if extra else ""
                memory = f"{extra['memory_mb']:,.0f}" if extra else ""
                total = ""
                if other and extra:
                    total = f"{(timing.one_pass_ms + extra['build_s'] * 1000) / ours.one_pass_ms:,.0f}"
                elif other:
                    total = f"{timing.one_pass_ms / ours.one_pass_ms:,.1f}"
                load = f"{timing.load_before:.1f} / {timing.load_after:.1f}"
                lines.append(f"| {r['papers']:,} | {name} | {label} | {_fmt_ms(timing.p50)} | {_fmt_ms(timing.p99)} | "
                             f"{ratio50} | {ratio99} | {build} | {memory} | {total} | {load} |")
    return lines


def _render_index(results: list[dict]) -> list[str]:
    lines = ["", "Search index build (from the store, in a child process) and judged relevance "
             "(precision@k of tests/search/test_relevance.py's queries on the planted seed papers)", "",
             "| papers | database | index build s | papers/s | size MB | build peak memory MB | "
             "relevance, index: mean / min | relevance, SQL path: mean / min |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for name, b in r["backends"].items():
            built, judged = b.get("index_build"), b.get("relevance", {})
            cells = [f"{built['build_s']:.1f}", f"{built['per_s']:,.0f}", f"{built['size_mb']:,.0f}",
                     f"{built['memory_mb']:,.0f}"] if built else ["—"] * 4
            for engine in ("index", "sql"):
                figure = judged.get(engine)
                cells.append(f"{figure['mean']:.2f} / {figure['min']:.2f}" if figure else "—")
            lines.append(f"| {r['papers']:,} | {name} | " + " | ".join(cells) + " |")
    return lines


def _render_serve(results: list[dict]) -> list[str]:
    lines = ["", "Digest build (select + Block Kit + Markdown) and serve memory (`papers-bot serve`, per engine)", "",
             "| papers | database | digest build ms (p50 / max) | papers selected of 600 | messages | engine | "
             "serve RSS MB idle / peak | /papers round trip ms p50 / p99 |",
             "|---:|---|---:|---:|---:|---|---:|---:|"]
    for r in results:
        for name, b in r["backends"].items():
            d = b.get("digest")
            digest_cells = (f"{d['p50_ms']:.0f} / {d['max_ms']:.0f} | {d['selected']} | {d['messages']}" if d
                            else "skipped | — | —")
            serves = b.get("serve") or {"—": None}
            for engine, served in serves.items():
                serve_cell = f"{served['idle_mb']:.0f} / {served['peak_mb']:.0f}" if served else "—"
                rt_cell = f"{served['p50_ms']:.0f} / {served['p99_ms']:.0f}" if served else "—"
                lines.append(f"| {r['papers']:,} | {name} | {digest_cells} | {engine} | {serve_cell} | {rt_cell} |")
    return lines


def to_json(results: list[dict], info: dict) -> dict:
    def convert(value):
        if isinstance(value, Timing):
            return {"p50_ms": value.p50, "p99_ms": value.p99, "one_pass_ms": value.one_pass_ms, "hits": value.hits,
                    "load": [value.load_before, value.load_after],
                    "per_query_p50_ms": {q: percentile(v, 50) for q, v in value.per_query_ms.items()}}
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    return {"machine": info, "queries": list(QUERIES), "results": convert(results)}


def postgres_version(admin_url: str) -> str | None:
    try:
        import psycopg

        url = normalise_database_url(admin_url).replace("postgresql+psycopg://", "postgresql://")
        with closing(psycopg.connect(url)) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception as error:  # noqa: BLE001 - only the report's header line depends on it
        note(f"PostgreSQL version unknown: {error}")
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated corpus sizes")
    parser.add_argument("--smoke", action="store_true", help="1,000 papers, SQLite only, few repeats")
    parser.add_argument("--pg-url", help="a PostgreSQL server URL; a database of our own is created and dropped")
    parser.add_argument("--skip-sqlite", action="store_true", help="with --pg-url: PostgreSQL only")
    parser.add_argument("--pg-prefix", default="papers_bench", help="name prefix of the databases the run creates")
    parser.add_argument("--page-ingest-max", type=int, default=20_000,
                        help="papers timed through the page-by-page ingest path (on a scratch database)")
    parser.add_argument("--repeats", type=int, default=10, help="passes over the query set for our search")
    parser.add_argument("--baseline-repeats", type=int, default=2, help="passes for the baselines")
    parser.add_argument("--digest-repeats", type=int, default=10)
    parser.add_argument("--bm25-max", type=int, default=200_000, help="skip BM25 above this size")
    parser.add_argument("--no-memory-baselines", action="store_true", help="skip tf-idf and BM25")
    parser.add_argument("--like-no-warm-up", action="store_true",
                        help="time the LIKE scan without a warm-up pass (at 1M on PostgreSQL a pass takes minutes)")
    parser.add_argument("--like-max", type=int, help="skip the LIKE scan above this many papers")
    parser.add_argument("--reuse-pages", action="store_true",
                        help="with --workdir: reuse a complete corpus of pages left there (same --seed)")
    parser.add_argument("--no-serve", action="store_true", help="skip the serve-memory measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, help="where pages and databases go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep pages and databases")
    parser.add_argument("--reuse", action="store_true",
                        help="with --workdir: reuse the SQLite database a --keep run left (no corpus, no ingest)")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.repeats, args.baseline_repeats, args.digest_repeats = "1000", 2, 1, 2
        args.pg_url = None
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]

    info = machine()
    if args.pg_url:
        info["postgresql"] = postgres_version(args.pg_url)
    with _workdir(args.workdir) as workdir:
        results = []
        for n in sizes:
            # The JSON is rewritten after every phase, so a run cut short still leaves what it measured.
            results.append(run_size(n, args, workdir, lambda result: _save_partial(args, info, results, result)))
            gc.collect()
    table = render(results, info)
    print(table)
    if args.json:
        args.json.write_text(json.dumps(to_json(results, info), indent=2, default=str))
    if args.smoke:
        # The smoke run exists so the benchmark cannot rot: every app-side measurement must have run.
        sqlite = results[0]["backends"]["SQLite"]
        wanted = {"the SQL path": sqlite.get("sql"), "the search index": sqlite.get("index"),
                  "every search from the index": sqlite.get("index_declined") == 0,
                  "the digest build": sqlite.get("digest")}
        if not args.no_serve:
            for engine in ("index", "sql"):
                serve = (sqlite.get("serve") or {}).get(engine)
                wanted[f"serve, {engine} (every /papers answered)"] = serve and serve["answered"] == len(QUERIES)
        missing = [name for name, value in wanted.items() if not value]
        if missing:
            print(f"smoke run failed: {', '.join(missing)} did not run (see the notes above)", file=sys.stderr)
            return 1
    return 0


def _save_partial(args, info: dict, done: list[dict], current: dict) -> None:
    if args.json:
        args.json.write_text(json.dumps(to_json([*done, current], info), indent=2, default=str))


@contextmanager
def _workdir(given: Path | None):
    if given:
        given.mkdir(parents=True, exist_ok=True)
        yield given
        return
    directory = Path(tempfile.mkdtemp(prefix="papers-bench-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
