"""The schema is made only by migrations, and the migrations match the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from greenshield import migrate
from migrations import compare
from models import Base


def test_models_and_migrations_agree(app, db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, **compare.hooks(connection.dialect.name)})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_database_is_at_head(app, db):
    assert migrate.current_revision(db.engine) == migrate.head_revision()


def test_init_db_is_safe_to_run_again(runner):
    first = runner.invoke(args=["init-db"])
    second = runner.invoke(args=["init-db"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "reference data loaded" in second.output
