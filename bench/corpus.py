"""A synthetic arXiv for benchmarks: N papers with realistic term statistics, written as arXiv API Atom pages.

Words follow a Zipf law over a ~60k-word vocabulary whose head is the real vocabulary of the 87 seed
papers (so "the", "of", "model" are common, and a real topic word such as "quantization" appears at
some plausible rate), the rest pseudo-words. The 87 real papers from tests/fixtures/seed_feed.atom.xml
are planted at evenly spaced positions, so topical queries have true hits at every size.

Everything is deterministic for a given (n, seed). numpy makes the 1M corpus several times faster to
draw; without it (a plain `.[dev]` install, as in CI's smoke run) the stdlib `random` path is used.
"""

from __future__ import annotations

import itertools
import math
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/run.py` from a clone, without installing bench/
    sys.path.insert(0, str(ROOT))

from bot.arxiv_source import read_feed_file  # noqa: E402
from db.records import PaperRecord  # noqa: E402

try:  # optional: the `bench` extra
    import numpy as np
except ImportError:  # pragma: no cover - depends on the install
    np = None

SEED_FEED = ROOT / "tests" / "fixtures" / "seed_feed.atom.xml"
VOCABULARY_SIZE = 60_000
ZIPF_EXPONENT = 1.0
# The head of the vocabulary: function words and the generic words of any abstract, in the seed's
# order of frequency. Every other real word (the topical ones: "quantization", "llm", "sparse") is
# placed at a random rank in TOPICAL_RANK_RANGE, so with Zipf it occurs in roughly 0.1%-5% of
# papers, as a topic word does on arXiv, instead of the 40% it has in a seed set chosen for the topic.
_GENERIC_TEXT = """
a about above across after against all also although among an and any are as at be been before being between
both but by can could do does each either et etc for from further given has have here how however i if in into
is it its itself many may more most much must new no not of on one only or other our over per rather same
several should show shows shown since so some such than that the their them then there these they this those
though three through thus to two under up upon us use used uses using very via was we well were what when
where whether which while who whose why will with within without would yet approach approaches based data
different demonstrate effective experiments first framework high important improve improved improves including
large learning method methods model models novel paper performance present problem problems propose proposed
provide results set significant significantly state study system systems task tasks time training work
existing key address achieve achieves analysis applications challenges compared critical despite enable
furthermore level low make multiple often potential process real recent require second specific structure
support various way
"""
GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())
TOPICAL_RANK_RANGE = (200, 30_000)
ABSTRACT_WORDS = (120, 250)
TITLE_WORDS = (5, 14)
AUTHORS_PER_PAPER = (1, 8)
PAPERS_PER_DAY = 600  # roughly cs.* on a busy day
CORPUS_END = datetime(2025, 3, 20, 20, 0, tzinfo=UTC)  # the seed digest's day
CATEGORIES = (
    "cs.LG", "cs.CV", "cs.CL", "cs.AI", "stat.ML", "cs.RO", "cs.CR", "cs.DC", "cs.NE", "cs.IR",
    "cs.SE", "cs.DS", "cs.IT", "math.OC", "cs.SY", "eess.SP", "eess.IV", "cs.HC", "cs.NI", "cs.AR",
    "cs.PL", "cs.DB", "cs.GT", "cs.MA", "cs.SD", "eess.AS", "cs.CY", "cs.LO", "cs.CC", "cs.CG",
    "math.ST", "q-bio.NC", "physics.comp-ph", "cond-mat.dis-nn", "quant-ph", "math.NA", "cs.MM",
    "cs.SI", "cs.ET", "cs.GR",
)
_SYLLABLES = (
    "ka", "lo", "mi", "ne", "tra", "vi", "sor", "pel", "dun", "qua", "rix", "fen", "gal", "hom", "jet",
    "zu", "bri", "cam", "dor", "el", "fi", "gor", "hul", "in", "kel", "lum", "mor", "nat", "op", "pra",
    "ris", "sta", "tel", "ul", "ven", "wix", "yor", "zen", "ax", "bo",
)
_WORD_RE = re.compile(r"[a-z][a-z-]*[a-z]|[a-z]")
_ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom">\n'
    '  <link href="http://arxiv.org/api/query?search_query%3Dall%3Abench%26start%3D{start}%26max_results%3D{size}" '
    'rel="self" type="application/atom+xml"/>\n'
    '  <title type="html">ArXiv Query: search_query=all:bench&amp;start={start}&amp;max_results={size}</title>\n'
    "  <id>http://arxiv.org/api/bench{start}</id>\n"
    "  <updated>2025-03-21T00:00:00-04:00</updated>\n"
    '  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}'
    "</opensearch:totalResults>\n"
    '  <opensearch:startIndex xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{start}'
    "</opensearch:startIndex>\n"
    '  <opensearch:itemsPerPage xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{size}'
    "</opensearch:itemsPerPage>\n"
)


@lru_cache(maxsize=1)
def seed_papers() -> tuple[PaperRecord, ...]:
    """The 87 real papers of the seed feed, parsed by the app's own reader."""
    return tuple(item for item in read_feed_file(SEED_FEED) if isinstance(item, PaperRecord))


def _pseudo_words(rng: random.Random, count: int, taken: set[str]) -> list[str]:
    words: list[str] = []
    seen = set(taken)
    while len(words) < count:
        word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


@lru_cache(maxsize=4)
def build_vocabulary(seed: int = 0) -> list[str]:
    """~60k words, most frequent first."""
    counts = Counter(
        word for paper in seed_papers() for word in _WORD_RE.findall(f"{paper.title} {paper.abstract}".lower())
    )
    ranked = [word for word, _ in counts.most_common()]
    head = [w for w in ranked if w in GENERIC_WORDS] + sorted(GENERIC_WORDS.difference(ranked))
    topical = [w for w in ranked if w not in GENERIC_WORDS]
    rng = random.Random(seed)
    rest = _pseudo_words(rng, VOCABULARY_SIZE - len(head) - len(topical), set(ranked) | GENERIC_WORDS)
    rng.shuffle(rest)
    # Log-uniform ranks: as many topical words between ranks 200 and 2,000 as between 2,000 and 20,000.
    for word in topical:
        rank = int(math.exp(rng.uniform(math.log(TOPICAL_RANK_RANGE[0]), math.log(TOPICAL_RANK_RANGE[1]))))
        rest.insert(max(0, rank - len(head)), word)
    return head + rest


def _zipf_cumulative(size: int) -> list[float]:
    return list(itertools.accumulate(1.0 / (rank**ZIPF_EXPONENT) for rank in range(1, size + 1)))


class _WordSampler:
    """Draws Zipf-distributed words; numpy draws a whole batch of ranks at once when it is there."""

    def __init__(self, vocabulary: list[str], seed: int):
        self.vocabulary = vocabulary
        self.cumulative = _zipf_cumulative(len(vocabulary))
        self.total = self.cumulative[-1]
        self.rng = random.Random(seed)
        if np is not None:
            self.np_rng = np.random.default_rng(seed)
            self.np_cumulative = np.asarray(self.cumulative)
            self._buffer: list[int] = []
            self._pos = 0

    def words(self, k: int) -> list[str]:
        if np is None:
            return self.rng.choices(self.vocabulary, cum_weights=self.cumulative, k=k)
        if self._pos + k > len(self._buffer):
            draws = self.np_rng.random(1 << 20) * self.total
            self._buffer = np.searchsorted(self.np_cumulative, draws, side="right").tolist()
            self._pos = 0
        picked = self._buffer[self._pos : self._pos + k]
        self._pos += k
        vocabulary = self.vocabulary
        return [vocabulary[i] for i in picked]


@lru_cache(maxsize=4)
def _author_pool(seed: int) -> tuple[list[str], list[float]]:
    """Names with a skewed productivity: a few authors write many papers, most write one or two."""
    rng = random.Random(f"authors-{seed}")
    real = list(dict.fromkeys(a for p in seed_papers() for a in p.authors))
    firsts = [w.capitalize() for w in _pseudo_words(rng, 3_000, set())]
    lasts = [w.capitalize() for w in _pseudo_words(rng, 12_000, set(firsts))]
    synthetic = list(dict.fromkeys(f"{rng.choice(firsts)} {rng.choice(lasts)}" for _ in range(60_000)))
    names = real + synthetic
    cumulative = list(itertools.accumulate(1.0 / (rank**0.8) for rank in range(1, len(names) + 1)))
    return names, cumulative


def generate_papers(n: int, seed: int = 0) -> Iterator[PaperRecord]:
    """Yield n papers, oldest first, with the 87 real seed papers planted at evenly spaced positions.

    Dates span max(120, n / 600) days ending on the seed digest's day; ids follow arXiv's YYMM.NNNNN
    form, unique and never equal to a seed id.
    """
    rng = random.Random(seed)
    vocabulary = build_vocabulary(seed)
    sampler = _WordSampler(vocabulary, seed)
    author_names, author_weights = _author_pool(seed)
    category_weights = list(itertools.accumulate(1.0 / rank for rank in range(1, len(CATEGORIES) + 1)))
    real = list(seed_papers()) if n >= len(seed_papers()) else list(seed_papers())[:n]
    plant_at = {(i * n) // len(real) + (n // len(real)) // 2: paper for i, paper in enumerate(real)} if real else {}
    real_ids = {p.arxiv_id for p in real}
    span = timedelta(days=max(120, n // PAPERS_PER_DAY))
    start = CORPUS_END - span
    step = span / max(n, 1)
    per_month: Counter[str] = Counter()

    for position in range(n):
        if position in plant_at:
            yield plant_at[position]
            continue
        published = (start + step * position + timedelta(seconds=rng.randint(0, 59))).replace(microsecond=0)
        month = published.strftime("%y%m")
        while True:
            per_month[month] += 1
            arxiv_id = f"{month}.{per_month[month]:05d}"
            if arxiv_id not in real_ids:
                break
        version = 1 if rng.random() < 0.8 else rng.randint(2, 4)
        updated = published + timedelta(days=rng.randint(1, 60)) if version > 1 else published
        title_words = sampler.words(rng.randint(*TITLE_WORDS))
        abstract_words = sampler.words(rng.randint(*ABSTRACT_WORDS))
        k_authors = min(rng.randint(*AUTHORS_PER_PAPER), rng.randint(*AUTHORS_PER_PAPER))
        authors = tuple(dict.fromkeys(rng.choices(author_names, cum_weights=author_weights, k=k_authors)))
        cats = list(dict.fromkeys(rng.choices(CATEGORIES, cum_weights=category_weights, k=rng.randint(1, 3))))
        yield PaperRecord(
            arxiv_id=arxiv_id,
            version=version,
            title=" ".join(title_words).capitalize(),
            abstract=" ".join(abstract_words).capitalize() + ".",
            authors=authors,
            primary_category=cats[0],
            categories=tuple(cats),
            published=published,
            updated=updated,
            pdf_url=f"http://arxiv.org/pdf/{arxiv_id}v{version}",
        )


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def atom_entry(paper: PaperRecord) -> str:
    """One <entry> the way the arXiv API writes it."""
    vid = paper.versioned_id
    parts = [
        "  <entry>\n",
        f"    <id>http://arxiv.org/abs/{vid}</id>\n",
        f"    <updated>{_atom_time(paper.updated)}</updated>\n",
        f"    <published>{_atom_time(paper.published)}</published>\n",
        f"    <title>{escape(paper.title)}</title>\n",
        f"    <summary>{escape(paper.abstract)}</summary>\n",
    ]
    parts.extend(f"    <author>\n      <name>{escape(name)}</name>\n    </author>\n" for name in paper.authors)
    if paper.comment:
        parts.append(
            f'    <arxiv:comment xmlns:arxiv="http://arxiv.org/schemas/atom">{escape(paper.comment)}</arxiv:comment>\n'
        )
    if paper.journal_ref:
        parts.append(
            '    <arxiv:journal_ref xmlns:arxiv="http://arxiv.org/schemas/atom">'
            f"{escape(paper.journal_ref)}</arxiv:journal_ref>\n"
        )
    if paper.doi:
        parts.append(f'    <arxiv:doi xmlns:arxiv="http://arxiv.org/schemas/atom">{escape(paper.doi)}</arxiv:doi>\n')
    parts.append(f'    <link href="http://arxiv.org/abs/{vid}" rel="alternate" type="text/html"/>\n')
    parts.append(f'    <link title="pdf" href={quoteattr(paper.pdf_link)} rel="related" type="application/pdf"/>\n')
    parts.append(
        '    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" '
        f'term={quoteattr(paper.primary_category)} scheme="http://arxiv.org/schemas/atom"/>\n'
    )
    parts.extend(
        f'    <category term={quoteattr(cat)} scheme="http://arxiv.org/schemas/atom"/>\n' for cat in paper.categories
    )
    parts.append("  </entry>\n")
    return "".join(parts)


def write_atom_pages(papers: Iterable[PaperRecord], directory: Path, page_size: int = 2000) -> list[Path]:
    """Write the papers as arXiv API answer pages (page-00000.xml, ...); return the paths in order.

    totalResults is unknown while streaming, so every page announces its own start and size only;
    the parser does not need the total.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    iterator = iter(papers)
    start = 0
    while True:
        chunk = list(itertools.islice(iterator, page_size))
        if not chunk:
            break
        path = directory / f"page-{len(paths):05d}.xml"
        head = _ATOM_HEAD.format(start=start, size=len(chunk), total=start + len(chunk))
        with path.open("w", encoding="utf-8") as out:
            out.write(head)
            out.writelines(atom_entry(p) for p in chunk)
            out.write("</feed>\n")
        paths.append(path)
        start += len(chunk)
    return paths


def main(argv: list[str] | None = None) -> None:
    import argparse
    import time

    parser = argparse.ArgumentParser(description="Write a synthetic arXiv corpus as Atom pages.")
    parser.add_argument("n", type=int)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page-size", type=int, default=2000)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    paths = write_atom_pages(generate_papers(args.n, args.seed), args.directory, args.page_size)
    print(f"{args.n} papers in {len(paths)} pages under {args.directory} in {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()

