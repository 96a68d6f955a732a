"""Alembic environment: runs on the connection handed over by leaderboard.schema, or opens one itself."""

from alembic import context

from leaderboard.db import Base, make_engine

config = context.config


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic command line: use --db's environment variable or the default
    with make_engine(writer=True).connect() as conn:
        _run(conn)
