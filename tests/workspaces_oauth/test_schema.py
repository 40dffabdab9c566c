"""The installation tables migration 0012 creates are the ones the installed slack_sdk's SQLAlchemy stores read
and write (an upgrade of slack_sdk that changes them fails here), and the stores work on both databases."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore
from sqlalchemy import MetaData, inspect

from db.models import Base
from handlers.oauth import installation_store

SDK_TABLES = {
    "slack_installations": lambda m: SQLAlchemyInstallationStore.build_installations_table(m, "slack_installations"),
    "slack_bots": lambda m: SQLAlchemyInstallationStore.build_bots_table(m, "slack_bots"),
    "slack_oauth_states": lambda m: SQLAlchemyOAuthStateStore.build_oauth_states_table(m, "slack_oauth_states"),
}


def _shape(table) -> tuple:
    columns = [(c.name, repr(c.type), c.nullable, c.primary_key) for c in table.columns]
    indexes = sorted((i.name, tuple(c.name for c in i.columns), bool(i.unique)) for i in table.indexes)
    return columns, indexes


@pytest.mark.parametrize("name", sorted(SDK_TABLES))
def test_our_table_is_slack_sdks_column_for_column(name):
    assert _shape(Base.metadata.tables[name]) == _shape(SDK_TABLES[name](MetaData()))


@pytest.mark.parametrize("name", sorted(SDK_TABLES))
def test_the_migrated_database_has_the_table_with_its_index(store, name):
    inspector = inspect(store.engine)
    assert [c["name"] for c in inspector.get_columns(name)] == [c.name for c in Base.metadata.tables[name].columns]
    assert {i["name"] for i in inspector.get_indexes(name)} == {i.name for i in Base.metadata.tables[name].indexes}


def test_the_store_saves_finds_and_deletes_on_the_migrated_tables(oauth_settings, store):
    installations = installation_store(oauth_settings, store.engine)
    installed_at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC).timestamp()
    installations.save(Installation(app_id="A0PAPERS", team_id="T0SECOND", team_name="Second Lab",
                                    bot_token="xoxb-saved-not-real", bot_id="B1", bot_user_id="UB1",
                                    bot_scopes="commands", user_id="U0ADMIN", installed_at=installed_at))
    found = installations.find_installation(enterprise_id=None, team_id="T0SECOND")
    assert found.bot_token == "xoxb-saved-not-real" and found.installed_at == installed_at
    assert installations.find_bot(enterprise_id=None, team_id="T0SECOND").bot_user_id == "UB1"
    installations.delete_all(enterprise_id=None, team_id="T0SECOND")
    assert installations.find_installation(enterprise_id=None, team_id="T0SECOND") is None
    assert installations.find_bot(enterprise_id=None, team_id="T0SECOND") is None


def test_a_state_is_good_once(store):
    states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=store.engine)
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False
