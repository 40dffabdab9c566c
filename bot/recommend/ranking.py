"""Scoring, pure: the candidate window as an idf-weighted sparse matrix, a reader's profile, the hybrid score.

Rows are scipy CSR matrices: a window of 18,000 papers is several million stored terms, and scipy's compiled
products score it in milliseconds. The idf comes from the window itself (the papers a request ranks), so
stored vectors never need redoing as the archive grows. Every row is scaled to unit length, so a dot product
is a cosine.

A reader's profile is the mean of their reads' unit vectors (Rocchio's centroid). The benchmark measured it
level with arxiv-sanity's per-user linear SVM over tf-idf, at a thousandth of the cost and with nothing to fit.
The hybrid adds how well a paper matches the reader's channel topics and how many people of the workspace
read it lately: score = cos(paper, profile) + TOPIC_WEIGHT * cos(paper, topics) + POPULAR_WEIGHT * log(1 +
readers). Both weights were chosen on a corpus seed other than the one BENCHMARKS.md reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy import sparse

from bot.recommend.vectors import DIM, decode_many

TOPIC_WEIGHT = 0.05
POPULAR_WEIGHT = 0.01
COLD_POPULAR_WEIGHT = 0.1  # no reads yet: what the workspace reads is half of what there is to go on


Rows = sparse.csr_matrix  # one unit-length row per paper, DIM columns, float32


@dataclass(frozen=True)
class Window:
    """The candidate papers of one state of the store: ids, dates and weighted rows, in the same order."""

    key: tuple
    start: datetime
    end: datetime
    arxiv_ids: tuple[str, ...]
    published: np.ndarray  # POSIX seconds
    rows: Rows
    columns: sparse.csc_matrix  # the same matrix by term: a score touches only the terms its query has
    idf: np.ndarray
    row_of: dict[str, int] = field(repr=False)


def weigh(blobs: Sequence[bytes], idf: np.ndarray) -> Rows:
    """Stored term-frequency vectors -> idf-weighted unit rows (a row without words stays empty)."""
    indptr, terms, weights = decode_many(blobs)
    rows = sparse.csr_matrix((weights * idf[terms], terms, indptr), shape=(len(blobs), DIM), dtype=np.float32)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    rows.data *= np.repeat(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0), np.diff(indptr))
    return rows


def build_window(key: tuple, *, start: datetime, end: datetime, arxiv_ids: Sequence[str],
                 published: Sequence[datetime], blobs: Sequence[bytes]) -> Window:
    _, terms, _ = decode_many(blobs)
    document_frequency = np.bincount(terms, minlength=DIM)
    # sklearn's smooth idf: a word in every paper still counts a little, one in none does not divide by zero.
    idf = (np.log((1.0 + len(blobs)) / (1.0 + document_frequency)) + 1.0).astype(np.float32)
    return Window(
        key=key, start=start, end=end, arxiv_ids=tuple(arxiv_ids),
        published=np.fromiter((p.timestamp() for p in published), dtype=np.float64, count=len(published)),
        rows=(rows := weigh(blobs, idf)), columns=rows.tocsc(), idf=idf,
        row_of={arxiv_id: i for i, arxiv_id in enumerate(arxiv_ids)},
    )


def centroid(rows: Rows) -> sparse.csr_matrix:
    """The mean of the rows, as a one-row sparse matrix (empty when there are no rows)."""
    if rows.shape[0] == 0:
        return sparse.csr_matrix((1, DIM), dtype=np.float32)
    mean = sparse.csr_matrix(np.full((1, rows.shape[0]), 1.0 / rows.shape[0], dtype=np.float32))
    return (mean @ rows).tocsr()


def similarities(rows: Rows, vector: sparse.csr_matrix) -> np.ndarray:
    """Each row's dot product with a one-row vector (cosines, rows and vector being unit length or means).
    The vector goes dense: a sparse-by-sparse product would first transpose it into DIM row pointers."""
    return np.asarray(rows @ vector.toarray().ravel(), dtype=np.float32)


def window_similarities(window: Window, vector: sparse.csr_matrix) -> np.ndarray:
    """Every window row's dot product with a one-row vector, reading only the columns of the vector's terms:
    a few hundred terms touch a fraction of the millions a whole-window product would."""
    if vector.nnz == 0:
        return np.zeros(len(window.arxiv_ids), dtype=np.float32)
    return np.asarray(window.columns[:, vector.indices] @ vector.data, dtype=np.float32)


def pairwise(a: Rows, b: Rows) -> np.ndarray:
    """The dense matrix of dot products between the rows of two small row sets, computed on the columns they
    use only (a product over all DIM columns would allocate DIM row pointers for the transpose)."""
    columns, compact = np.unique(np.concatenate([a.indices, b.indices]), return_inverse=True)
    shape = len(columns)
    left = sparse.csr_matrix((a.data, compact[: a.nnz], a.indptr), shape=(a.shape[0], shape))
    right = sparse.csr_matrix((b.data, compact[a.nnz :], b.indptr), shape=(b.shape[0], shape))
    return (left @ right.T).toarray()


def closest_rows(window: Window, candidates: Sequence[int], others: Rows) -> list[tuple[int, float]]:
    """For each candidate row, the index of the row of `others` most like it and their cosine."""
    if others.shape[0] == 0 or not len(candidates):
        return [(-1, 0.0) for _ in candidates]
    similarity = pairwise(window.rows[np.asarray(candidates)], others)
    best = similarity.argmax(axis=1)
    return [(int(b), float(similarity[n, b])) for n, b in enumerate(best)]


def hybrid_scores(window: Window, *, profile: sparse.csr_matrix | None, topics: sparse.csr_matrix | None,
                  readers: np.ndarray, topic_weight: float = TOPIC_WEIGHT, popular_weight: float | None = None,
                  ) -> np.ndarray:
    """The For you score of every window row (see the module docstring), in one pass over the window.
    Without a profile (no reads yet) the topics count in full and popularity more (COLD_POPULAR_WEIGHT)."""
    if popular_weight is None:
        popular_weight = POPULAR_WEIGHT if profile is not None else COLD_POPULAR_WEIGHT
    query = sparse.csr_matrix((1, DIM), dtype=np.float32)
    if profile is not None:
        query = query + profile
    if topics is not None:
        query = query + (topic_weight if profile is not None else 1.0) * topics
    query.sum_duplicates()
    return window_similarities(window, query) + np.float32(popular_weight) * np.log1p(readers)


def top_rows(scores: np.ndarray, eligible: np.ndarray, published: np.ndarray, count: int) -> np.ndarray:
    """The indices of the `count` best eligible rows, best first; the newer paper first among equal scores."""
    candidates = np.flatnonzero(eligible)
    if count <= 0 or not len(candidates):
        return candidates[:0]
    if len(candidates) > count:  # sort only what can make the cut: every row scoring at least the count-th best
        kth = np.partition(scores[candidates], len(candidates) - count)[len(candidates) - count]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((-published[candidates], -scores[candidates]))
    return candidates[order[:count]]
