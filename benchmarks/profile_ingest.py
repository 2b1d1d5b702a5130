"""Where the time of one daily-log ingest goes: cProfile of the CLI's code path, split into phases.

    python benchmarks/profile_ingest.py [--rows 100000] [--postgres URL] [--top 25] [--what-if render_nulls]

Generates the same kind of file as ``ingest_bench.py``, prepares a fresh instance (SQLite, or a scratch
PostgreSQL database with ``--postgres``), then runs exactly what ``greenshield ingest`` runs
(``upload_daily_log`` in a job session, committed) in this process under cProfile. Prints the time per phase
(read, validate, prepare rows, INSERT, screen, recount, archive, commit) and the top functions.

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
from _common import libpq_url, print_facts, print_table, scratch_database  # noqa: E402

FLUSH = ("ingest/services.py", "flush")
SCREEN = ("compliance/services.py", "screen")
# (phase, (file suffix, function), only as called from (file suffix, function) or None): cumulative times.
PHASES = [
    ("whole ingest (upload_daily_log)", ("ingest/pipeline.py", "upload_daily_log"), None),
    ("read CSV rows (DailyLogReader._rows)", ("inspection/dailylog.py", "_rows"), None),
    ("validate rows (validate_row)", ("inspection/dailylog.py", "validate_row"), None),
    ("write records (_RecordWriter.flush)", FLUSH, None),
    ("  flush: SQL (Session.execute)", ("orm/session.py", "execute"), FLUSH),
    ("  flush: blind indexes (Vault.index)", ("greenshield/pii.py", "index"), FLUSH),
    ("  flush: encryption (Vault.encrypt)", ("greenshield/pii.py", "encrypt"), FLUSH),
    ("  flush: content_hash", ("ingest/services.py", "content_hash"), FLUSH),
    ("  flush: birth_date_problem", ("inspection/identity.py", "birth_date_problem"), FLUSH),
    ("screen (abnormal real-name data)", SCREEN, None),
    ("  screen: ID usage queries (_usage)", ("compliance/services.py", "_usage"), SCREEN),
    ("  screen: other SQL (Session.execute)", ("orm/session.py", "execute"), SCREEN),
    ("  screen: sequential_runs", ("inspection/screening.py", "sequential_runs"), SCREEN),
    ("  screen: _record_finding", ("compliance/services.py", "_record_finding"), SCREEN),
    ("refresh_outlet_days", ("compliance/services.py", "refresh_outlet_days"), None),
    ("archive the file (archive.store)", ("greenshield/archive.py", "store"), None),
    ("spool the upload (archive.spool)", ("greenshield/archive.py", "spool"), None),
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
    parser.add_argument("--save", type=Path, help="write the raw cProfile data here (for snakeviz etc.)")
    args = parser.parse_args(argv)

    print_facts({"rows": args.rows, "database": "PostgreSQL" if args.postgres else "SQLite",
                 "what-if": ", ".join(args.what_if) or "none"})
    work = Path(tempfile.mkdtemp(prefix="gs-profile-"))
    try:
        csv_path = work / "daily-log.csv"
        day = ingest_bench.dt.date(2026, 3, 2)
        ingest_bench.generate(csv_path, args.rows, day, 0.005, 1)
        instance = work / "instance"
        if args.postgres:
            with scratch_database(libpq_url(args.postgres), "profile") as (url, _):
                stats, wall = profile(instance, url, csv_path, day, args)
        else:
            stats, wall = profile(instance, None, csv_path, day, args)
    finally:
        shutil.rmtree(work, ignore_errors=True)

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
    from greenshield.ingest.pipeline import upload_daily_log
    from models import Outlet

    whatif.apply(args.what_if)
    app = create_app({"INSTANCE_PATH": str(instance),
                      "DATABASE_URL": database_url or f"sqlite:///{instance / 'greenshield.db'}"})
    profiler = cProfile.Profile()
    with app.app_context():
        start = time.perf_counter()
        profiler.enable()
        with app.test_request_context(), db.job_session() as session:
            outlet = session.scalar(select(Outlet).where(Outlet.code == ingest_bench.OUTLET))
            with open(csv_path, "rb") as stream:
                outcome = upload_daily_log(session, outlet=outlet, stream=stream, filename=csv_path.name,
                                           strict=False, source="cli", user=None)
            accepted = outcome.batch.rows_accepted
        profiler.disable()
        wall = time.perf_counter() - start
        db.database().engine.dispose()
    print(f"accepted {accepted:,} rows")
    return pstats.Stats(profiler), wall


if __name__ == "__main__":
    raise SystemExit(main())
