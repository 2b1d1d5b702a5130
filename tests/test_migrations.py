"""The schema is made only by migrations, and the migrations match the models."""
from __future__ import annotations

import json

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


def test_batch_errors_keep_their_english_messages_as_legacy_codes(session, make_outlet):
    """d5d720c0f05b stores row errors as codes: rows stored before keep their message, both ways."""
    from alembic import command
    from sqlalchemy import text

    from models import UploadBatch

    outlet = make_outlet("SF-HH-0001")
    batch = UploadBatch(outlet=outlet, sha256="0" * 64, filename="old.csv", size_bytes=1, format="csv",
                        status="partial", source="api")
    session.add(batch)
    session.flush()
    connection = session.connection()
    command.downgrade(migrate.alembic_config(connection), "5a7c2221703e")
    connection.execute(text('INSERT INTO batch_errors (batch_id, "row", "column", message) VALUES '
                            "(:batch, 3, 'sender_id_no', 'resident ID number check digit is wrong'), "
                            "(:batch, 4, '', 'row is not a JSON object')"), {"batch": batch.id})

    command.upgrade(migrate.alembic_config(connection), "head")
    rows = connection.execute(text('SELECT "row", "column", code, params FROM batch_errors WHERE batch_id = :batch '
                                   'ORDER BY "row"'), {"batch": batch.id}).all()
    params = [p if isinstance(p, dict) else json.loads(p) for *_, p in rows]
    assert [(r[0], r[1], r[2]) for r in rows] == [(3, "sender_id_no", "legacy"), (4, "", "legacy")]
    assert params == [{"message": "resident ID number check digit is wrong"},
                      {"message": "row is not a JSON object"}]

    command.downgrade(migrate.alembic_config(connection), "5a7c2221703e")
    assert connection.execute(text('SELECT message FROM batch_errors WHERE batch_id = :batch ORDER BY "row"'),
                              {"batch": batch.id}).scalars().all() == [
        "resident ID number check digit is wrong", "row is not a JSON object"]
    command.upgrade(migrate.alembic_config(connection), "head")
