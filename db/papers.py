"""SQL for the `papers` table: upsert by version-less arXiv id, and lookups.

The upsert compares content, not only the version: a whole copy of the stored version whose fields differ
replaces the row (an older release stored papers from answers cut short: a short abstract, no authors).
Every such rewrite names title, abstract and author_names, so SQLite's full-text triggers (AFTER UPDATE OF
those columns) re-index the row; PostgreSQL's search_vector is a generated column and follows by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.dialect import insert_for
from db.models import Paper
from db.records import PaperRecord, UpsertCounts

# Keeps each IN (...) and multi-row INSERT well under SQLite's bound-parameter limit.
_CHUNK = 500
_CONTENT_FIELDS = (
    "version", "title", "abstract", "authors", "author_names", "primary_category", "categories",
    "published", "updated", "pdf_url", "comment", "journal_ref", "doi",
)


def _row_values(paper: PaperRecord) -> dict:
    return {
        "arxiv_id": paper.arxiv_id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "author_names": ", ".join(paper.authors),
        "primary_category": paper.primary_category,
        "categories": " ".join(paper.categories),
        "published": paper.published,
        "updated": paper.updated,
        "pdf_url": paper.pdf_url,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
    }


def to_record(row: Paper) -> PaperRecord:
    return PaperRecord(
        arxiv_id=row.arxiv_id,
        version=row.version,
        title=row.title,
        abstract=row.abstract,
        authors=tuple(row.authors),
        primary_category=row.primary_category,
        categories=tuple(row.categories.split()),
        published=row.published,
        updated=row.updated,
        pdf_url=row.pdf_url,
        comment=row.comment,
        journal_ref=row.journal_ref,
        doi=row.doi,
    )


def upsert_papers(session: Session, papers: Sequence[PaperRecord], *, seen_at: datetime) -> UpsertCounts:
    """Insert new papers, replace older versions and stored copies of the same version whose content
    differs (counted as updated), and leave identical or older copies alone (unchanged).

    Within one call a paper listed twice counts once, at its highest version.
    """
    latest: dict[str, PaperRecord] = {}
    for paper in papers:
        kept = latest.get(paper.arxiv_id)
        if kept is None or paper.version > kept.version:
            latest[paper.arxiv_id] = paper
    counts = UpsertCounts()
    items = list(latest.values())
    for start in range(0, len(items), _CHUNK):
        counts += _upsert_chunk(session, items[start : start + _CHUNK], seen_at)
    return counts


def _content(paper: PaperRecord) -> dict:
    return {k: v for k, v in _row_values(paper).items() if k in _CONTENT_FIELDS}


def _upsert_chunk(session: Session, papers: list[PaperRecord], seen_at: datetime) -> UpsertCounts:
    ids = [p.arxiv_id for p in papers]
    columns = [getattr(Paper, name) for name in _CONTENT_FIELDS]
    stored = {row.arxiv_id: dict(zip(_CONTENT_FIELDS, row[1:], strict=True))
              for row in session.execute(select(Paper.arxiv_id, *columns).where(Paper.arxiv_id.in_(ids)))}
    fresh = [p for p in papers if p.arxiv_id not in stored]
    # A newer version, or the same version whose stored copy differs: both rewrite the row.
    rewrite = [p for p in papers if p.arxiv_id in stored and (
        p.version > stored[p.arxiv_id]["version"]
        or (p.version == stored[p.arxiv_id]["version"] and _content(p) != stored[p.arxiv_id]))]
    rewritten_ids = {p.arxiv_id for p in rewrite}
    same = [p.arxiv_id for p in papers if p.arxiv_id in stored and p.arxiv_id not in rewritten_ids]

    inserted = 0
    if fresh:
        rows = [{**_row_values(p), "first_seen_at": seen_at, "last_seen_at": seen_at} for p in fresh]
        # A concurrent fetch may insert the same paper first; skip it rather than fail the batch.
        table = Paper.__table__
        stmt = insert_for(session)(table).on_conflict_do_nothing(index_elements=["arxiv_id"]).returning(table.c.id)
        inserted = len(session.connection().execute(stmt, rows).all())
    updated = 0
    for paper in rewrite:
        # `version <=` keeps a newer version stored meanwhile by another process.
        result = session.execute(
            update(Paper)
            .where(Paper.arxiv_id == paper.arxiv_id, Paper.version <= paper.version)
            .values(**_content(paper), last_seen_at=seen_at)
        )
        updated += result.rowcount
    if same:
        session.execute(update(Paper).where(Paper.arxiv_id.in_(same)).values(last_seen_at=seen_at))
    return UpsertCounts(new=inserted, updated=updated, unchanged=len(papers) - inserted - updated)


def get_paper(session: Session, arxiv_id: str) -> PaperRecord | None:
    row = session.scalar(select(Paper).where(Paper.arxiv_id == arxiv_id))
    return to_record(row) if row else None


def get_papers(session: Session, arxiv_ids: Sequence[str]) -> dict[str, PaperRecord]:
    found: dict[str, PaperRecord] = {}
    ids = list(dict.fromkeys(arxiv_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = session.scalars(select(Paper).where(Paper.arxiv_id.in_(ids[start : start + _CHUNK])))
        found.update((row.arxiv_id, to_record(row)) for row in rows)
    return found


def papers_published_between(session: Session, *, start: datetime, end: datetime) -> list[PaperRecord]:
    """Papers first published in [start, end), newest first (the digest's order)."""
    rows = session.scalars(
        select(Paper)
        .where(Paper.published >= start, Paper.published < end)
        .order_by(Paper.published.desc(), Paper.arxiv_id.desc())
    )
    return [to_record(row) for row in rows]


def count_papers(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Paper)) or 0
