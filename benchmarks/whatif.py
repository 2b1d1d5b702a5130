"""Measure a proposed change without editing the application: patch the running process, then run the CLI.

    python benchmarks/whatif.py PATCH[,PATCH...] -- ingest OUTLET FILE

Patches (each one a proposal from docs/performance.md; the application's files are never touched):

- ``bounded_in``: ``compliance.services.screen`` binds one parameter per distinct ID of the batch twice: the
  staff lookup (``Staff.id_no_hmac IN (...)``) and the stale-findings lookup (``Finding.subject IN (...)`` per
  day). PostgreSQL (psycopg) refuses more than 65,535 parameters in a statement and SQLite more than
  SQLITE_MAX_VARIABLE_NUMBER (32,766 upstream, 250,000 in Debian's build), so a large file fails as a whole.
  The patch loads the staff that have an ID hash (a small table) and the day's usage findings (few), and
  matches in Python.
- ``render_nulls``: the records' bulk ``insert(CollectionRecord)`` leaves out None values, so SQLAlchemy
  splits each 5,000-row chunk into thousands of small executemany groups (one per run of rows with the same
  None pattern). ``execution_options(render_nulls=True)`` sends NULLs and keeps one executemany per chunk.
- ``sqlite_cache``: SQLite connections keep the default page cache (2 MiB), far smaller than the records'
  eight indexes once a table holds a few hundred thousand rows; random-key inserts into the ID and phone hash
  indexes then go to the OS for most pages. The patch adds ``PRAGMA cache_size=-262144`` (256 MiB) to the
  connect hook of ``greenshield.db.make_engine``.

Fails loudly when the code it patches has changed (the patch then no longer applies).
"""
from __future__ import annotations

import inspect
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

PATCHES = ("bounded_in", "render_nulls", "sqlite_cache")


def _patch_source(module, name: str, replacements: list[tuple[str, str]]) -> None:
    source = textwrap.dedent(inspect.getsource(getattr(module, name)))
    for old, new in replacements:
        if source.count(old) != 1:
            raise SystemExit(f"what-if: {module.__name__}.{name} no longer contains {old!r} once; "
                             "update benchmarks/whatif.py")
        source = source.replace(old, new)
    code = compile("from __future__ import annotations\n" + source, module.__file__, "exec")
    exec(code, module.__dict__)  # noqa: S102 - redefines the function in its own module


def apply(names: list[str]) -> None:
    for name in names:
        if name == "bounded_in":
            from greenshield.compliance import services
            from greenshield.ingest import pipeline

            _patch_source(services, "screen", [
                (".where(Staff.id_no_hmac.in_(list(clear_of)))", ".where(Staff.id_no_hmac.is_not(None))"),
                ("Finding.subject.in_(list(hmacs))", "True"),
                ("if (finding.kind, finding.subject, finding.day) not in still:",
                 "if finding.subject in hmacs and (finding.kind, finding.subject, finding.day) not in still:"),
            ])
            pipeline.screen = services.screen
        elif name == "render_nulls":
            import sqlalchemy

            from greenshield.ingest import services

            services.insert = lambda table: sqlalchemy.insert(table).execution_options(render_nulls=True)
        elif name == "sqlite_cache":
            from sqlalchemy import event

            from greenshield import db

            def make_engine(url: str, echo: bool = False, _original=db.make_engine):
                engine = _original(url, echo=echo)
                if engine.dialect.name == "sqlite":
                    @event.listens_for(engine, "connect")
                    def _cache(dbapi_connection, _record):
                        dbapi_connection.execute("PRAGMA cache_size=-262144")
                return engine

            db.make_engine = make_engine
        else:
            raise SystemExit(f"what-if: unknown patch {name!r} (known: {', '.join(PATCHES)})")


def main() -> int:
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[1] != "--":
        raise SystemExit(__doc__)
    apply([p for p in argv[0].split(",") if p])
    from greenshield.cli import main as cli

    return cli.main(args=argv[2:], prog_name="greenshield")


if __name__ == "__main__":
    raise SystemExit(main())
