"""Composition root: builds the store, the arXiv source, the Bolt app and the scheduler from Settings.

Nothing else wires components together; the CLI and the tests call these builders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.arxiv_source import ArxivSource
from bot.config import Settings
from db.session import make_engine, make_session_factory, upgrade


@dataclass(frozen=True)
class Store:
    engine: Engine
    session_factory: sessionmaker[Session]


def build_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The engine and session factory, with the schema brought to the latest migration."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return Store(engine=engine, session_factory=make_session_factory(engine))


def build_arxiv_source(settings: Settings) -> ArxivSource:
    return ArxivSource.from_settings(settings)
