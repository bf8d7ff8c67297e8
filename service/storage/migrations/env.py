"""Alembic environment: runs on the connection ``service.storage.database.Database.upgrade`` hands over."""

from alembic import context

from service.storage.models import metadata

context.configure(connection=context.config.attributes["connection"], target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
