"""Search fixtures: a store that answers on SQL (SEARCH_ENGINE=sql, the path kept beside the index)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.app import Store, build_store


@pytest.fixture
def sql_store_of(settings) -> Callable[[Callable[[sessionmaker[Session]], object]], Store]:
    """Makes a store on the test's database that searches on SQL, after `load(session_factory)` filled it."""
    stores: list[Store] = []

    def make(load: Callable[[sessionmaker[Session]], object]) -> Store:
        store = build_store(replace(settings, search_engine="sql"), migrate=False)
        stores.append(store)
        load(store.session_factory)
        return store

    yield make
    for store in stores:
        store.engine.dispose()
