"""Alembic environment: runs migrations on the connection `db.session.upgrade` hands over."""

from alembic import context

from db.models import Base

target_metadata = Base.metadata
connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `papers-bot db upgrade` (db.session.upgrade)")

context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
