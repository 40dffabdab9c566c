"""What differs between SQLite and PostgreSQL statements; every db module asks here instead of switching itself."""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def insert_for(session: Session):
    """The dialect's `insert` (the generic one has no ON CONFLICT): PostgreSQL's, else SQLite's."""
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
