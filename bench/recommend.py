"""The recommendation benchmark: For you against its baselines on simulated readers, and its request latency.

    python bench/recommend.py --sizes 10000,100000 --pg-url postgresql://postgres@127.0.0.1:5432/postgres
    python bench/recommend.py --smoke                         # 2,000 papers, 100 readers, < 60 s
    python bench/recommend.py --sizes 10000 --seed 1 --tune   # the weight grid, on another corpus seed

The corpus is bench/corpus.py's with research topics planted in half its papers (bench/topics_corpus.py).
1,000 readers in 50 workspaces of 20: a workspace follows three topics (its channel's digest keywords are
their first terms) and each reader is interested in one or two of them. A reader has read 1-12 papers of each
interest, four in five of them older than the For you window, plus a stray paper for about one read in
seven. Held out: every paper of their interests in the window (papers first published within 30 days of the
newest) that they have not read. Every method ranks the same candidates (the window less the reader's reads);
nDCG@10 counts a held-out paper as relevant, recall@10 is the held-out papers in the top 10 over
min(10, held out), as Liang et al. (2018) define it, so a perfect list scores 1 however many there are.

Methods, in one run on the same readers:
- `foryou`: bot.recommend.for_you itself, through SQL (stored vectors, reads, the workspace's read counts).
- its parts, in memory on the same window: the tf-idf centroid alone (with and without word pairs), plus topic
  match, plus popularity.
- baselines: newest first; topic keyword match (bot.topics, the workspace's keywords, newest first among
  equals); arxiv-sanity's tf-idf + linear SVM per reader (scikit-learn, fitted on the candidates and the
  reader's reads); wordllama's 256-d embeddings (loaded from the installed wheel, downloads disabled), mean
  of the reads' vectors, raw and with the corpus' idf weighting the tokens.
Latency: for_you for every reader once (their first request: the window is cached, their profile is not),
then again (all cached), and cold (every cache cleared) for a sample; similar and popular too.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.topics_corpus import TOPICS, generate_topic_papers  # noqa: E402
from bot import recommend  # noqa: E402
from bot.app import build_store  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.ingest import FetchReport, store_page  # noqa: E402
from bot.recommend import ranking  # noqa: E402
from bot.recommend.vectors import encode, query_vector  # noqa: E402
from bot.topics import Topic, matched_keywords  # noqa: E402
from db import vectors as vector_store  # noqa: E402
from db.reads import upsert_read  # noqa: E402

WINDOW_DAYS = 30
TEAMS, PER_TEAM, TEAM_TOPICS = 50, 20, 3
K = 10
PAGE = 1000


@dataclass
class Reader:
    team: int
    user_id: str
    interests: list[int]
    reads: list[int]  # corpus indices
    relevant: set[int] = field(default_factory=set)

    @property
    def team_id(self) -> str:
        return f"T{self.team:03d}"


@dataclass
class Corpus:
    papers: list
    topic_of: np.ndarray  # -1: no topic
    window: np.ndarray  # bool: in the For you window
    now: datetime
    index_of: dict[str, int]


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))] if ordered else float("nan")


def progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# -- corpus, readers, database -----------------------------------------------------------------------


def make_corpus(n: int, seed: int) -> Corpus:
    pairs = list(generate_topic_papers(n, seed))
    papers = [p for p, _ in pairs]
    newest = max(p.published for p in papers)
    return Corpus(
        papers=papers,
        topic_of=np.array([-1 if t is None else t for _, t in pairs]),
        window=np.array([p.published >= newest - timedelta(days=WINDOW_DAYS) for p in papers]),
        now=newest + timedelta(days=1),
        index_of={p.arxiv_id: i for i, p in enumerate(papers)},
    )


def make_readers(corpus: Corpus, *, teams: int, seed: int) -> tuple[list[Reader], list[list[int]]]:
    rng = random.Random(f"readers-{seed}")
    by_topic = {k: np.flatnonzero(corpus.topic_of == k) for k in range(len(TOPICS))}
    team_topics = [rng.sample(range(len(TOPICS)), TEAM_TOPICS) for _ in range(teams)]
    readers = []
    for team, topics in enumerate(team_topics):
        for member in range(PER_TEAM):
            interests = rng.sample(topics, rng.choice([1, 1, 2]))
            reads: list[int] = []
            for topic in interests:
                old = [int(i) for i in by_topic[topic] if not corpus.window[i]]
                new = [int(i) for i in by_topic[topic] if corpus.window[i]]
                count = rng.choice([1, 2, 3, 3, 5, 8, 12])
                recent = sum(rng.random() < 0.2 for _ in range(count))
                reads += rng.sample(old, min(len(old), count - recent)) + rng.sample(new, min(len(new), recent))
            reads += [rng.randrange(len(corpus.papers)) for _ in range(sum(rng.random() < 0.15 for _ in reads))]
            reader = Reader(team=team, user_id=f"U{team:03d}{member:02d}", interests=interests,
                            reads=list(dict.fromkeys(reads)))
            held_out = np.flatnonzero(corpus.window & np.isin(corpus.topic_of, interests))
            reader.relevant = set(held_out.tolist()) - set(reader.reads)
            readers.append(reader)
    return readers, team_topics


def build_database(url: str, corpus: Corpus) -> tuple[object, dict]:
    """Ingest through bot.ingest.store_page, vectors included, a page of 1,000 per transaction."""
    store = build_store(Settings(database_url=url))
    report = FetchReport()
    began = time.perf_counter()
    for start in range(0, len(corpus.papers), PAGE):
        store_page(store.session_factory, corpus.papers[start : start + PAGE], report)
    seconds = time.perf_counter() - began
    began = time.perf_counter()
    for paper in corpus.papers[:2000]:
        encode(paper.title, paper.abstract)
    encode_ms = (time.perf_counter() - began) / min(2000, len(corpus.papers)) * 1000
    return store, {"ingest_per_s": len(corpus.papers) / seconds, "encode_ms": encode_ms}


def insert_reads(store, corpus: Corpus, readers: Sequence[Reader], seed: int) -> int:
    """Each read a day or three after the paper appeared (never after `now`)."""
    rng = random.Random(f"read-times-{seed}")
    count = 0
    with store.session_factory.begin() as session:
        for reader in readers:
            for index in reader.reads:
                paper = corpus.papers[index]
                read_at = min(corpus.now, paper.published + timedelta(hours=rng.randint(2, 72)))
                count += upsert_read(session, team_id=reader.team_id, user_id=reader.user_id,
                                     arxiv_id=paper.arxiv_id, source="button", read_at=read_at)
    return count


# -- evaluation ----------------------------------------------------------------------------------------


def quality(ranked: dict[str, list[int]], readers: Sequence[Reader]) -> tuple[float, float]:
    discounts = 1.0 / np.log2(np.arange(2, K + 2))
    ndcg, recall = [], []
    for reader in readers:
        if not reader.relevant:
            continue
        gains = np.array([1.0 if i in reader.relevant else 0.0 for i in ranked[reader.user_id][:K]])
        ideal = discounts[: min(K, len(reader.relevant))].sum()
        ndcg.append(float((gains * discounts[: len(gains)]).sum() / ideal))
        recall.append(float(gains.sum() / min(K, len(reader.relevant))))
    return float(np.mean(ndcg)), float(np.mean(recall))


def rank_in_memory(candidates: np.ndarray, readers: Sequence[Reader],
                   score: Callable[[Reader, np.ndarray], np.ndarray], newest_first: np.ndarray) -> dict:
    ranked = {}
    for reader in readers:
        pool = candidates[~np.isin(candidates, reader.reads)]
        scores = score(reader, pool)
        order = np.lexsort((-newest_first[pool], -scores))
        ranked[reader.user_id] = pool[order[:K]].tolist()
    return ranked


@dataclass
class Bench:
    corpus: Corpus
    readers: list[Reader]
    team_topics: list[list[int]]
    store: object
    results: dict = field(default_factory=dict)
    latency: dict = field(default_factory=dict)
    foryou_ranked: dict = field(default_factory=dict)

    def topics_of(self, team: int) -> list[Topic]:
        return [Topic(keywords=TOPICS[k].keywords) for k in self.team_topics[team]]

    def record(self, name: str, ranked: dict, note: str = "") -> None:
        self.results[name] = (*quality(ranked, self.readers), note)
        progress(f"  {name}: nDCG@10 {self.results[name][0]:.3f}, recall@10 {self.results[name][1]:.3f}")


def run_foryou(bench: Bench, suffix: str = "") -> None:
    """Quality and latency of the real thing: one request per reader (profile not cached), then a second."""
    corpus, factory = bench.corpus, bench.store.session_factory
    recommend.clear_caches()
    recommend.for_you(factory, team_id="T-warm-up", user_id="U", limit=K, now=corpus.now)  # loads the window
    ranked, first, again = {}, [], []
    for reader in bench.readers:
        for timings in (first, again):
            began = time.perf_counter()
            page = recommend.for_you(factory, team_id=reader.team_id, user_id=reader.user_id, limit=K,
                                     now=corpus.now, topics=bench.topics_of(reader.team), window_days=WINDOW_DAYS)
            timings.append((time.perf_counter() - began) * 1000)
        ranked[reader.user_id] = [corpus.index_of[item.paper.arxiv_id] for item in page.items]
    bench.record("foryou (bot.recommend.for_you)" + suffix, ranked)
    bench.foryou_ranked = bench.foryou_ranked or ranked
    cold = []
    for reader in bench.readers[:: max(1, len(bench.readers) // 40)]:
        recommend.clear_caches()
        began = time.perf_counter()
        recommend.for_you(factory, team_id=reader.team_id, user_id=reader.user_id, limit=K, now=corpus.now,
                          topics=bench.topics_of(reader.team), window_days=WINDOW_DAYS)
        cold.append((time.perf_counter() - began) * 1000)
    bench.latency["foryou, first request of each reader" + suffix] = first
    bench.latency["foryou, repeated (profile cached)" + suffix] = again
    bench.latency["foryou, cold process (window rebuilt)" + suffix] = cold


def run_similar_popular(bench: Bench, suffix: str = "") -> None:
    corpus, factory = bench.corpus, bench.store.session_factory
    rng = random.Random(7)
    in_window = np.flatnonzero(corpus.window)
    similar, popular = [], []
    for index in rng.sample(in_window.tolist(), min(200, len(in_window))):
        began = time.perf_counter()
        recommend.similar(factory, arxiv_id=corpus.papers[index].arxiv_id, limit=5, window_days=WINDOW_DAYS)
        similar.append((time.perf_counter() - began) * 1000)
    for team in range(len(bench.team_topics)):
        for window in ("week", "month"):
            began = time.perf_counter()
            recommend.popular(factory, team_id=f"T{team:03d}", window=window, limit=5, now=corpus.now)
            popular.append((time.perf_counter() - began) * 1000)
    bench.latency["similar" + suffix] = similar
    bench.latency["popular" + suffix] = popular


def run_postgres(bench: Bench, admin_url: str, n: int) -> None:
    """The requests again on PostgreSQL (a database of its own on that server, dropped afterwards)."""
    from bench.run import postgres_backend  # noqa: PLC0415 - bench/run.py is heavy; only --pg-url needs it

    backend = postgres_backend(admin_url, n)
    try:
        progress(f"{n:,} papers: ingest into PostgreSQL")
        store, ingest = build_database(backend.url, bench.corpus)
        insert_reads(store, bench.corpus, bench.readers, 0)
        sqlite_store, bench.store = bench.store, store
        bench.latency["ingest (PostgreSQL)"] = ingest
        run_foryou(bench, " (PostgreSQL)")
        run_similar_popular(bench, " (PostgreSQL)")
        store.engine.dispose()
        bench.store = sqlite_store
    finally:
        backend.drop()


# -- the parts of For you, and the baselines, in memory ------------------------------------------------


def window_from_store(bench: Bench) -> ranking.Window:
    with bench.store.session_factory.begin() as session:
        start = vector_store.newest_published(session) - timedelta(days=WINDOW_DAYS)
        rows = vector_store.window_vectors(session, model=recommend.MODEL, start=start)
    return ranking.build_window((), start=start, end=bench.corpus.now, arxiv_ids=[r.arxiv_id for r in rows],
                                published=[r.published for r in rows], blobs=[r.vector for r in rows])


def team_readers(bench: Bench) -> dict[int, dict[int, int]]:
    """Distinct readers per paper and workspace over the last 30 days, as for_you counts them."""
    since = bench.corpus.now - timedelta(days=recommend.READERS_DAYS)
    with bench.store.session_factory.begin() as session:
        return {team: {bench.corpus.index_of[c.arxiv_id]: c.readers
                       for c in vector_store.read_counts(session, team_id=f"T{team:03d}", since=since)}
                for team in range(len(bench.team_topics))}


def ours_in_memory(bench: Bench, *, bigrams: bool = True, topic_weight: float = 0.0,
                   popular_weight: float | None = 0.0, window: ranking.Window | None = None,
                   readers_by_team: dict | None = None, cold: bool = False) -> dict:
    corpus = bench.corpus
    if window is None or not bigrams:
        blobs = [encode(p.title, p.abstract, bigrams=bigrams) for p in corpus.papers]
        indices = np.flatnonzero(corpus.window)
        window = ranking.build_window((), start=None, end=None, arxiv_ids=[corpus.papers[i].arxiv_id for i in indices],
                                      published=[corpus.papers[i].published for i in indices],
                                      blobs=[blobs[i] for i in indices])
        read_blob = blobs.__getitem__
    else:
        read_blob = lambda i: encode(corpus.papers[i].title, corpus.papers[i].abstract)  # noqa: E731
    rows = np.array([corpus.index_of[a] for a in window.arxiv_ids])
    topic_vectors = {team: ranking.centroid(ranking.weigh([query_vector([k for t in bench.topics_of(team)
                                                                           for k in t.keywords])], window.idf))
                     for team in range(len(bench.team_topics))}
    ranked = {}
    for reader in bench.readers:
        profile = None if cold else ranking.centroid(ranking.weigh([read_blob(i) for i in reader.reads], window.idf))
        counts = (readers_by_team or {}).get(reader.team, {})
        readers = np.array([counts.get(int(i), 0) for i in rows], dtype=np.float32)
        scores = ranking.hybrid_scores(window, profile=profile, topics=topic_vectors[reader.team], readers=readers,
                                       topic_weight=topic_weight, popular_weight=popular_weight)
        eligible = ~np.isin(rows, reader.reads)
        top = ranking.top_rows(scores, eligible, window.published, K)
        ranked[reader.user_id] = rows[top].tolist()
    return ranked


def baselines(bench: Bench, *, svm_readers: int, wordllama: bool) -> None:
    corpus = bench.corpus
    candidates = np.flatnonzero(corpus.window)
    published = np.array([p.published.timestamp() for p in corpus.papers])
    bench.record("newest first", rank_in_memory(candidates, bench.readers, lambda r, pool: np.zeros(len(pool)),
                                                published))
    matches: dict[int, dict[int, int]] = {}
    for team in range(len(bench.team_topics)):
        keywords = [k for t in bench.topics_of(team) for k in t.keywords]
        matches[team] = {int(i): len(matched_keywords(corpus.papers[i].title, corpus.papers[i].abstract, keywords))
                         for i in candidates}
    bench.record("topic keyword match (newest first among equals)", rank_in_memory(
        candidates, bench.readers, lambda r, pool: np.array([matches[r.team][int(i)] for i in pool]), published))
    svm_baseline(bench, candidates, published, svm_readers)
    if wordllama:
        wordllama_baselines(bench, candidates, published)


def svm_baseline(bench: Bench, candidates: np.ndarray, published: np.ndarray, svm_readers: int) -> None:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC
    except ImportError:
        progress("  scikit-learn is not installed (the bench extra): the tf-idf SVM baseline is skipped")
        return
    corpus = bench.corpus
    vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32, max_df=0.9)
    matrix = vectorizer.fit_transform(f"{p.title} {p.abstract}" for p in corpus.papers)
    sample = bench.readers[:: max(1, len(bench.readers) // svm_readers)]

    def score(reader: Reader, pool: np.ndarray) -> np.ndarray:
        # arxiv-sanity-lite: reads are positives, everything else negatives, class_weight balanced, C=0.01.
        rows = np.concatenate([pool, reader.reads])
        labels = np.r_[np.zeros(len(pool)), np.ones(len(reader.reads))]
        svm = LinearSVC(class_weight="balanced", C=0.01, max_iter=10_000, tol=1e-6).fit(matrix[rows], labels)
        return svm.decision_function(matrix[pool])

    ranked = rank_in_memory(candidates, sample, score, published)
    bench.results["tf-idf + linear SVM (arxiv-sanity)"] = (*quality(ranked, sample), f"{len(sample)} readers")
    bench.results["foryou, on the SVM's readers"] = (*quality(bench.foryou_ranked, sample), f"{len(sample)} readers")
    svm, ours = bench.results["tf-idf + linear SVM (arxiv-sanity)"], bench.results["foryou, on the SVM's readers"]
    progress(f"  tf-idf SVM: nDCG@10 {svm[0]:.3f}; foryou on the same readers: {ours[0]:.3f}")


def wordllama_baselines(bench: Bench, candidates: np.ndarray, published: np.ndarray) -> None:
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError:
        progress("  wordllama is not installed (the bench extra): the embedding baselines are skipped")
        return
    # The wheel ships its weights in weights/ and its tokenizer in tokenizers/; with the package directory as
    # the cache directory the loader finds both, and it never downloads.
    model = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    texts = [f"{p.title}. {p.abstract}" for p in bench.corpus.papers]
    embeddings = np.vstack([model.embed(texts[i : i + 1000], norm=True) for i in range(0, len(texts), 1000)])
    bench.record("wordllama 256-d, mean of the reads", rank_in_memory(
        candidates, bench.readers, lambda r, pool: embeddings[pool] @ embeddings[r.reads].mean(0), published))
    weighted = idf_weighted_embeddings(model, texts)
    bench.record("wordllama 256-d, idf-weighted tokens", rank_in_memory(
        candidates, bench.readers, lambda r, pool: weighted[pool] @ weighted[r.reads].mean(0), published))


def idf_weighted_embeddings(model, texts: Sequence[str]) -> np.ndarray:
    table = np.asarray(model.embedding, dtype=np.float32)
    ids = [encoding.ids for encoding in model.tokenizer.encode_batch(list(texts), add_special_tokens=False)]
    document_frequency = np.zeros(len(table))
    for row in ids:
        document_frequency[np.unique(row)] += 1
    idf = np.log((1 + len(ids)) / (1 + document_frequency)) + 1
    out = np.zeros((len(ids), table.shape[1]), dtype=np.float32)
    for n, row in enumerate(ids):
        tokens, counts = np.unique(row, return_counts=True)
        out[n] = ((1 + np.log(counts)) * idf[tokens]) @ table[tokens]
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def parts_of_foryou(bench: Bench) -> None:
    window = window_from_store(bench)
    readers_by_team = team_readers(bench)
    bench.record("ours: tf-idf centroid, words only", ours_in_memory(bench, bigrams=False))
    bench.record("ours: tf-idf centroid, words and pairs", ours_in_memory(bench, window=window))
    bench.record("ours: + topic match", ours_in_memory(bench, window=window, topic_weight=ranking.TOPIC_WEIGHT))
    bench.record("ours: + popularity (= foryou's formula)", ours_in_memory(
        bench, window=window, topic_weight=ranking.TOPIC_WEIGHT, popular_weight=ranking.POPULAR_WEIGHT,
        readers_by_team=readers_by_team))
    # A reader's own reads hidden from their profile (their colleagues' still count): what a newcomer gets.
    bench.record("cold start: topic match + popularity, no profile", ours_in_memory(
        bench, window=window, popular_weight=None, readers_by_team=readers_by_team, cold=True))


def tune(bench: Bench) -> None:
    window = window_from_store(bench)
    readers_by_team = team_readers(bench)
    for topic_weight in (0.0, 0.05, 0.1, 0.2, 0.4):
        for popular_weight in (0.0, 0.01, 0.03, 0.06, 0.1):
            ndcg, recall = quality(ours_in_memory(bench, window=window, topic_weight=topic_weight,
                                                  popular_weight=popular_weight, readers_by_team=readers_by_team),
                                   bench.readers)
            print(f"topic {topic_weight:<5} popular {popular_weight:<5} nDCG@10 {ndcg:.3f} recall@10 {recall:.3f}")


def run_size(n: int, args, workdir: Path) -> Bench:
    progress(f"{n:,} papers: corpus")
    corpus = make_corpus(n, args.seed)
    readers, team_topics = make_readers(corpus, teams=args.teams, seed=args.seed)
    progress(f"{n:,} papers: ingest (vectors included) into SQLite")
    store, ingest = build_database(f"sqlite:///{workdir / f'recommend-{n}.db'}", corpus)
    reads = insert_reads(store, corpus, readers, args.seed)
    bench = Bench(corpus=corpus, readers=readers, team_topics=team_topics, store=store)
    bench.latency["ingest"] = ingest
    progress(f"{n:,} papers: {len(readers)} readers, {reads} reads, {int(corpus.window.sum()):,} in the window")
    if args.tune:
        tune(bench)
        return bench
    run_foryou(bench)
    run_similar_popular(bench)
    if args.pg_url:
        run_postgres(bench, args.pg_url, n)
    parts_of_foryou(bench)
    baselines(bench, svm_readers=args.svm_readers, wordllama=not args.no_wordllama)
    store.engine.dispose()
    return bench


def render(benches: dict[int, Bench]) -> str:
    sizes = list(benches)
    head = "| method | " + " | ".join(f"nDCG@10 ({n // 1000}k) | recall@10 ({n // 1000}k)" for n in sizes) + " |"
    lines = [head, "|---" + "|---:" * (2 * len(sizes)) + "|"]
    for name in benches[sizes[0]].results:
        cells = []
        for n in sizes:
            ndcg, recall, note = benches[n].results.get(name, (float("nan"), float("nan"), ""))
            cells += [f"{ndcg:.3f}", f"{recall:.3f}" + (f" ({note})" if note else "")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| request | " + " | ".join(f"p50 ({n // 1000}k) | p99 ({n // 1000}k)" for n in sizes) + " |",
              "|---" + "|---:" * (2 * len(sizes)) + "|"]
    for name, samples in benches[sizes[0]].latency.items():
        if name.startswith("ingest"):
            continue
        cells = []
        for n in sizes:
            got = benches[n].latency[name]
            cells += [f"{percentile(got, 50):.1f} ms", f"{percentile(got, 99):.1f} ms"]
        lines.append(f"| {name} ({len(samples)} requests) | " + " | ".join(cells) + " |")
    for n in sizes:
        ingest = benches[n].latency["ingest"]
        postgres = benches[n].latency.get("ingest (PostgreSQL)")
        lines.append(f"\n{n:,} papers: ingest with vectors {ingest['ingest_per_s']:,.0f} papers/s on SQLite"
                     + (f", {postgres['ingest_per_s']:,.0f} on PostgreSQL" if postgres else "")
                     + f"; computing one vector {ingest['encode_ms']:.2f} ms; "
                     f"{int(benches[n].corpus.window.sum()):,} papers in the window")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--teams", type=int, default=TEAMS, help=f"workspaces of {PER_TEAM} readers")
    parser.add_argument("--svm-readers", type=int, default=250, help="readers the SVM baseline fits for")
    parser.add_argument("--no-wordllama", action="store_true")
    parser.add_argument("--tune", action="store_true", help="print the weight grid instead")
    parser.add_argument("--smoke", action="store_true", help="2,000 papers, 100 readers: proves it runs")
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--pg-url", help="also time the requests on this PostgreSQL server (own database, dropped)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.teams, args.svm_readers = "2000", 5, 100
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-recommend-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        benches = {int(n): run_size(int(n), args, workdir) for n in args.sizes.split(",")}
    if not args.tune:
        print(render(benches))
    progress(f"done in {time.perf_counter() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
