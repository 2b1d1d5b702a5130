"""Where the time of one daily-log ingest goes: cProfile of the CLI's code path, split into phases.

    python benchmarks/profile_ingest.py [--rows 100000] [--postgres URL] [--top 25] [--what-if render_nulls]

Generates the same kind of file as ``ingest_bench.py``, prepares a fresh instance (SQLite, or a scratch
PostgreSQL database with ``--postgres``), then runs exactly what ``greenshield ingest`` runs
(``upload_daily_log`` in a job session, committed) in this process under cProfile. Prints the time per phase
(read, validate, prepare rows, INSERT or COPY, screen, recount, archive, commit) and the top functions.

``--what-if bounded_in,render_nulls`` measures proposed changes without touching the application's files: it
patches the running process only (see ``benchmarks/whatif.py``).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_bench  # noqa: E402
import whatif  # noqa: E402
from _common import libpq_url, loadavg, print_facts, print_table, scratch_database  # noqa: E402

FLUSH = ("ingest/services.py", "flush")
SCREEN = ("compliance/services.py", "screen")
# (phase, (file suffix, function), only as called from (file suffix, function) or None): cumulative times.
PHASES = [
    ("whole ingest (upload_daily_log)", ("ingest/pipeline.py", "upload_daily_log"), None),
    ("read CSV rows (DailyLogReader._rows)", ("inspection/dailylog.py", "_rows"), None),
    ("validate rows (validate_row)", ("inspection/dailylog.py", "validate_row"), None),
    ("write records (_RecordWriter.flush)", FLUSH, None),
    ("  flush: current-version lookup (_current)", ("ingest/services.py", "_current"), FLUSH),
    ("  flush: INSERT, SQLite (_executemany)", ("ingest/services.py", "_executemany"), FLUSH),
    ("  flush: COPY, PostgreSQL (_copy)", ("ingest/services.py", "_copy"), FLUSH),
    ("  flush: ANALYZE when no statistics", ("ingest/services.py", "_analyse_if_unplanned"), FLUSH),
    ("  flush: blind indexes (Vault.indexer)", ("greenshield/personal/keyring.py", "index"), FLUSH),
    ("  flush: encryption (Vault.encrypter)", ("greenshield/personal/keyring.py", "encrypt"), FLUSH),
    ("  flush: content_hash", ("ingest/services.py", "content_hash"), FLUSH),
    ("  flush: birth_date_problem", ("inspection/identity.py", "birth_date_problem"), FLUSH),
    ("screen (abnormal real-name data)", SCREEN, None),
    ("  screen: ID usage queries (_usage)", ("compliance/services.py", "_usage"), SCREEN),
    ("  screen: other SQL (Session.execute)", ("orm/session.py", "execute"), SCREEN),
    ("  screen: sequential_runs", ("inspection/screening.py", "sequential_runs"), SCREEN),
    ("  screen: _record_finding", ("compliance/services.py", "_record_finding"), SCREEN),
    ("refresh_outlet_days", ("compliance/services.py", "refresh_outlet_days"), None),
    ("archive the file (archive.store)", ("greenshield/personal/archive.py", "store"), None),
    ("spool the upload (archive.spool)", ("greenshield/personal/archive.py", "spool"), None),
    ("commit (job_session)", ("orm/session.py", "commit"), ("greenshield/db.py", "job_session")),
]


def _matches(key: tuple, wanted: tuple[str, str]) -> bool:
    filename, _line, func = key
    return func == wanted[1] and filename.endswith(wanted[0])


def phase_times(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    out = []
    for label, wanted, caller in PHASES:
        total, calls = 0.0, 0
        for key, (_cc, nc, _tt, ct, callers) in stats.stats.items():
            if not _matches(key, wanted):
                continue
            if caller is None:
                total += ct
                calls += nc
            else:
                for caller_key, (_ccc, cnc, _ctt, cct) in callers.items():
                    if _matches(caller_key, caller):
                        total += cct
                        calls += cnc
        out.append((label, total, calls))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--what-if", type=lambda v: [p for p in v.split(",") if p], default=[],
                        help=f"comma-separated patches of benchmarks/whatif.py: {', '.join(whatif.PATCHES)}")
    parser.add_argument("--one-process", action="store_true",
                        help="read and seal the rows in this process too (no second reading process)")
    parser.add_argument("--save", type=Path, help="write the raw cProfile data here (for snakeviz etc.)")
    parser.add_argument("--timers", action="store_true",
                        help="no cProfile: wall clock and CPU of the main steps only (true times, fewer details)")
    args = parser.parse_args(argv)

    print_facts({"rows": args.rows, "database": "PostgreSQL" if args.postgres else "SQLite",
                 "what-if": ", ".join(args.what_if) or "none"})
    work = Path(tempfile.mkdtemp(prefix="gs-profile-"))
    try:
        csv_path = work / "daily-log.csv"
        day = ingest_bench.dt.date(2026, 3, 2)
        ingest_bench.generate(csv_path, args.rows, day, 0.005, 1)
        instance = work / "instance"
        run = timed if args.timers else profile
        if args.postgres:
            with scratch_database(libpq_url(args.postgres), "profile") as (url, _):
                stats, wall = run(instance, url, csv_path, day, args)
        else:
            stats, wall = run(instance, None, csv_path, day, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.timers:
        print(f"\n# {args.rows:,} rows in {wall:.1f} s ({args.rows / wall:,.0f} rows/s), load {loadavg()}\n")
        print_table(["step", "calls", "wall s", "CPU s (this process)"],
                    [[label, f"{n:,}", f"{w:.2f}", f"{c:.2f}"] for label, (n, w, c) in stats.items()])
        return 0

    print(f"\n# {args.rows:,} rows in {wall:.1f} s under cProfile ({args.rows / wall:,.0f} rows/s; "
          "profiling adds overhead, compare shares rather than absolute times)\n")
    whole = next(t for label, t, _ in phase_times(stats) if label.startswith("whole")) or 1.0
    print_table(["phase", "calls", "cumulative s", "share of ingest"],
                [[label, f"{calls:,}", f"{t:.2f}", f"{100 * t / whole:.0f} %"] for label, t, calls in phase_times(stats)])
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(order).print_stats(args.top)
        print(f"\n# top {args.top} by {order}\n")
        print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:12000])
    if args.save:
        stats.dump_stats(args.save)
    return 0


def profile(instance: Path, database_url: str | None, csv_path: Path, day, args) -> tuple[pstats.Stats, float]:
    ingest_bench.prepare_instance(instance, database_url, day)
    from sqlalchemy import select

    from greenshield import create_app, db
    from greenshield.context import settings
    from greenshield.ingest.pipeline import upload_daily_log
    from models import Outlet

    whatif.apply(args.what_if)
    app = create_app({"INSTANCE_PATH": str(instance),
                      "DATABASE_URL": database_url or f"sqlite:///{instance / 'greenshield.db'}",
                      **({"INGEST_PARALLEL_BYTES": 2**62} if args.one_process else {})})
    profiler = cProfile.Profile()
    with app.app_context():
        start = time.perf_counter()
        profiler.enable()
        with app.test_request_context(), db.job_session() as session:
            outlet = session.scalar(select(Outlet).where(Outlet.code == ingest_bench.OUTLET))
            with open(csv_path, "rb") as stream:
                outcome = upload_daily_log(session, settings(), outlet=outlet, stream=stream, filename=csv_path.name,
                                           strict=False, source="cli", user=None)
            accepted = outcome.batch.rows_accepted
        profiler.disable()
        wall = time.perf_counter() - start
        db.database().engine.dispose()
    print(f"accepted {accepted:,} rows")
    return pstats.Stats(profiler), wall


TIMED = [("  read, validate, seal (this process)", "greenshield.ingest.services", None, "rows_here"),
         ("  flush (validated rows to the database)", "greenshield.ingest.services", "_RecordWriter", "flush"),
         ("    current-version lookups", "greenshield.ingest.services", "_RecordWriter", "_current"),
         ("    INSERT, SQLite", "greenshield.ingest.services", "_RecordWriter", "_executemany"),
         ("    COPY, PostgreSQL", "greenshield.ingest.services", "_RecordWriter", "_copy"),
         ("    ANALYZE when no statistics", "greenshield.ingest.services", "_RecordWriter", "_analyse_if_unplanned"),
         ("  screen", "greenshield.ingest.pipeline", None, "screen"),
         ("  refresh_outlet_days", "greenshield.ingest.pipeline", None, "refresh_outlet_days"),
         ("  archive.store", "greenshield.personal.archive", None, "store")]


def timed(instance: Path, database_url: str | None, csv_path: Path, day, args) -> tuple[dict, float]:
    """The same run as ``profile`` with timers around the main steps instead of cProfile."""
    import functools
    import importlib
    import inspect

    ingest_bench.prepare_instance(instance, database_url, day)
    from sqlalchemy import select

    from greenshield import create_app, db
    from greenshield.context import settings
    from greenshield.ingest.pipeline import upload_daily_log
    from models import Outlet

    totals: dict[str, list] = {}

    def wrap(label, owner, name):
        original = getattr(owner, name)
        totals[label] = [0, 0.0, 0.0]

        @functools.wraps(original)
        def wrapper(*a, **k):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return original(*a, **k)
            finally:
                entry = totals[label]
                entry[0] += 1
                entry[1] += time.perf_counter() - wall
                entry[2] += time.process_time() - cpu

        @functools.wraps(original)
        def generator_wrapper(*a, **k):  # time each step of a generator, not its creation
            inner = original(*a, **k)
            entry = totals[label]
            entry[0] += 1
            while True:
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    item = next(inner)
                except StopIteration:
                    return
                finally:
                    entry[1] += time.perf_counter() - wall
                    entry[2] += time.process_time() - cpu
                yield item

        setattr(owner, name, generator_wrapper if inspect.isgeneratorfunction(original) else wrapper)

    for label, module, cls, name in TIMED:
        owner = importlib.import_module(module)
        wrap(label, getattr(owner, cls) if cls else owner, name)
    app = create_app({"INSTANCE_PATH": str(instance),
                      "DATABASE_URL": database_url or f"sqlite:///{instance / 'greenshield.db'}",
                      **({"INGEST_PARALLEL_BYTES": 2**62} if args.one_process else {})})
    with app.app_context():
        start, cpu = time.perf_counter(), time.process_time()
        with app.test_request_context(), db.job_session() as session:
            outlet = session.scalar(select(Outlet).where(Outlet.code == ingest_bench.OUTLET))
            with open(csv_path, "rb") as stream:
                upload_daily_log(session, settings(), outlet=outlet, stream=stream, filename=csv_path.name,
                                 strict=False, source="cli", user=None)
            commit_wall, commit_cpu = time.perf_counter(), time.process_time()
        commit = [1, time.perf_counter() - commit_wall, time.process_time() - commit_cpu]
        wall = time.perf_counter() - start
        whole = [1, wall, time.process_time() - cpu]
        db.database().engine.dispose()
    inner = sum(totals[label][2] for label, *_ in TIMED if not label.startswith("    "))
    rest = [1, whole[1] - commit[1] - sum(totals[label][1] for label, *_ in TIMED if not label.startswith("    ")),
            whole[2] - commit[2] - inner]
    return {"whole ingest and commit": whole, "  the rest (the loop, waiting for the reading process, errors)": rest, **totals,
            "  commit": commit}, wall


if __name__ == "__main__":
    raise SystemExit(main())
