"""Compliance read API latency on a province-sized history: the league table, roll-ups, one outlet's year.

    python benchmarks/summary_bench.py [--outlets 2000] [--days 365] [--runs 30] [--postgres URL] [--json OUT]

Fills a freshly migrated database (SQLite in a temporary instance folder, or a scratch PostgreSQL database with
``--postgres``) with N outlets and N x days ``outlet_days`` rows (bulk Core inserts, realistic counts: most
outlets a few hundred parcels a day, sorting centres tens of thousands, a few outlets under the 99.8 % line and
their alerts), then times requests through the Flask test client with an admin bearer token:

- ``GET /api/v1/compliance/summary?date=D`` (every outlet; target p95 <= 200 ms), also narrowed to one league
  and as a region-scoped inspector;
- ``GET /api/v1/compliance/rollup?by=region|enterprise|month`` over a year;
- ``GET /api/v1/compliance/outlets/<code>`` over a year;
- ``GET /api/v1/alerts?status=open``.

Each is requested once untimed (the first request: caches, statement compilation), then ``--runs`` times;
prints p50 / p95 / max in milliseconds. ``--profile`` adds a cProfile of the summary request.
"""
from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import math
import pstats
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import libpq_url, loadavg, print_facts, print_table, scratch_database, write_json  # noqa: E402

TARGET_MS = 200.0
LEAGUES = ["150100", "150200", "150300", "150400", "150500", "150600", "150700", "150800", "150900", "152200",
           "152500", "152900"]
METRICS = ("real_name", "inspection", "xray")
THRESHOLD = 0.998


def fill(engine, outlets: int, days: int, end: dt.date, seed: int) -> dict:
    """Outlets, their outlet-days and alerts, with Core executemany in chunks. Returns what was made."""
    from sqlalchemy import insert, select

    from models import Alert, Enterprise, Outlet, OutletDay

    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        enterprises = [row[0] for row in conn.execute(select(Enterprise.id).order_by(Enterprise.id))]
        outlet_rows = []
        for i in range(1, outlets + 1):
            centre = rng.random() < 0.05
            outlet_rows.append({"code": f"BN-{i:05d}", "name": f"基准网点{i:05d}",
                                "enterprise_id": rng.choice(enterprises), "region_code": rng.choice(LEAGUES),
                                "kind": "sorting_centre" if centre else "outlet", "active": rng.random() > 0.01,
                                "created_at": now})
        conn.execute(insert(Outlet.__table__), outlet_rows)
        ids = [row[0] for row in conn.execute(select(Outlet.id).order_by(Outlet.id))]

    start_day = end - dt.timedelta(days=days - 1)
    day_rows: list[dict] = []
    alert_rows: list[dict] = []
    made = {"outlets": outlets, "outlet_days": 0, "alerts": 0}

    def flush(final: bool = False) -> None:
        if len(day_rows) >= 20_000 or (final and day_rows):
            with engine.begin() as conn:
                conn.execute(insert(OutletDay.__table__), day_rows)
            made["outlet_days"] += len(day_rows)
            day_rows.clear()
        if len(alert_rows) >= 20_000 or (final and alert_rows):
            with engine.begin() as conn:
                conn.execute(insert(Alert.__table__), alert_rows)
            made["alerts"] += len(alert_rows)
            alert_rows.clear()

    for outlet_id, outlet in zip(ids, outlet_rows):
        base = rng.lognormvariate(math.log(20_000 if outlet["kind"] == "sorting_centre" else 350), 0.6)
        miss = rng.choice((0.00002, 0.00005, 0.0001, 0.0002)) * (25 if rng.random() < 0.05 else 1)
        reports_from = start_day + dt.timedelta(days=rng.randrange(30)) if rng.random() < 0.1 else start_day
        for offset in range(days):
            day = start_day + dt.timedelta(days=offset)
            if day < reports_from or rng.random() < 0.02:
                continue  # not open yet, or nothing reported that day
            weekday = 0.75 if day.weekday() >= 5 else 1.0
            parcels = max(1, int(base * weekday * rng.uniform(0.7, 1.3)))
            misses = [min(parcels, int(parcels * miss * rng.expovariate(1.0) + rng.random())) for _ in METRICS]
            real_name_ok = parcels - misses[0]
            adjusted = max(0, real_name_ok - int(parcels * 0.0003 * rng.random() + rng.random() * 0.6))
            counts = {"real_name": real_name_ok / parcels, "inspection": (parcels - misses[1]) / parcels,
                      "xray": (parcels - misses[2]) / parcels}
            day_rows.append({"outlet_id": outlet_id, "day": day, "parcels": parcels, "real_name_ok": real_name_ok,
                             "real_name_adjusted_ok": adjusted, "inspected_ok": parcels - misses[1],
                             "xray_ok": parcels - misses[2], "real_name_rate": counts["real_name"],
                             "updated_at": now})
            for metric in METRICS:
                if counts[metric] < THRESHOLD:
                    recent = (end - day).days < 30
                    alert_rows.append({"outlet_id": outlet_id, "day": day, "metric": metric,
                                       "rate": counts[metric], "threshold": THRESHOLD,
                                       "status": "open" if recent and rng.random() < 0.7 else "closed",
                                       "opened_at": now, "closed_at": None if recent else now})
            flush()
    flush(final=True)
    return made


def timed_requests(client, url: str, headers: dict, runs: int) -> dict:
    first_start = time.perf_counter()
    response = client.get(url, headers=headers)
    first = (time.perf_counter() - first_start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} -> {response.status_code}: {response.get_data(as_text=True)[:500]}")
    rows = len(response.get_json())
    size = len(response.get_data())
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    samples.sort()
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return {"url": url, "rows": rows, "bytes": size, "first_ms": first, "p50_ms": statistics.median(samples),
            "p95_ms": p95, "max_ms": samples[-1], "runs": runs}


def profile_request(client, url: str, headers: dict, top: int = 30) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(5):
        client.get(url, headers=headers)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def bench(database_url: str, instance: Path, args) -> dict:
    from sqlalchemy import text

    from greenshield import create_app, db, migrate
    from greenshield.auth.services import create_user, issue_token
    from greenshield.reference import load_reference_data
    from models import Role

    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "bench"})
    engine = app.extensions[db.EXTENSION].engine
    t0 = time.perf_counter()
    migrate.upgrade(engine)
    with app.app_context(), db.job_session() as session:
        load_reference_data(session)
    made = fill(engine, args.outlets, args.days, args.end, args.seed)
    with app.app_context(), db.job_session() as session:
        admin = create_user(session, username="bench-admin", password="bench-password-1", role=Role.ADMIN)
        _, admin_token = issue_token(session, admin, days=30)
        inspector = create_user(session, username="bench-inspector", password="bench-password-1",
                                role=Role.INSPECTOR, region_code="150200")
        _, inspector_token = issue_token(session, inspector, days=30)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does shortly after a bulk load
    made["fill_s"] = round(time.perf_counter() - t0, 1)
    print(f"filled {made['outlets']:,} outlets, {made['outlet_days']:,} outlet-days, {made['alerts']:,} alerts "
          f"in {made['fill_s']} s", flush=True)

    end, start = args.end, args.end - dt.timedelta(days=args.days - 1)
    admin_h = {"Authorization": f"Bearer {admin_token}"}
    inspector_h = {"Authorization": f"Bearer {inspector_token}"}
    year = f"from={start}&to={end}"
    cases = [
        ("summary, all outlets (admin)", f"/api/v1/compliance/summary?date={end}", admin_h),
        ("summary, one league (admin, region=150200)", f"/api/v1/compliance/summary?date={end}&region=150200",
         admin_h),
        ("summary, inspector scoped to 150200", f"/api/v1/compliance/summary?date={end}", inspector_h),
        ("rollup by region, a year", f"/api/v1/compliance/rollup?by=region&{year}", admin_h),
        ("rollup by enterprise, a year", f"/api/v1/compliance/rollup?by=enterprise&{year}", admin_h),
        ("rollup by month, a year", f"/api/v1/compliance/rollup?by=month&{year}", admin_h),
        ("one outlet, a year", f"/api/v1/compliance/outlets/BN-00001?{year}", admin_h),
        ("open alerts (first 1000)", "/api/v1/alerts?status=open", admin_h),
    ]
    client = app.test_client()
    results = []
    for label, url, headers in cases:
        print(f"[{loadavg()}] {label} ...", flush=True)
        results.append({"case": label, **timed_requests(client, url, headers, args.runs)})
    profile = profile_request(client, cases[0][1], admin_h) if args.profile else None
    engine.dispose()
    return {"made": made, "results": results, "profile": profile}


def report(title: str, outcome: dict) -> None:
    print(f"\n# {title}: {outcome['made']['outlets']:,} outlets, {outcome['made']['outlet_days']:,} outlet-days, "
          f"{outcome['made']['alerts']:,} alerts (load average now {loadavg()})\n")
    rows = []
    for r in outcome["results"]:
        verdict = ("met" if r["p95_ms"] <= TARGET_MS else "NOT met") if r["case"].startswith("summary") else ""
        rows.append([r["case"], r["rows"], f"{r['bytes'] / 1024:.0f}", f"{r['first_ms']:.0f}", f"{r['p50_ms']:.1f}",
                     f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}", verdict])
    print_table(["request", "rows", "KiB", "first ms", "p50 ms", "p95 ms", "max ms", "p95 <= 200 ms"], rows)
    if outcome.get("profile"):
        print("\n# cProfile of 5 summary requests (cumulative)\n")
        print(outcome["profile"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2026, 10, 31),
                        help="last day of the history and the summary date (default 2026-10-31)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile 5 summary requests")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and database")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    facts = print_facts({"outlets": args.outlets, "days": args.days, "runs": args.runs})
    work = Path(tempfile.mkdtemp(prefix="gs-summary-bench-"))
    outcomes = {}
    try:
        if not args.skip_sqlite:
            instance = work / "instance-sqlite"
            instance.mkdir()
            outcomes["sqlite"] = bench(f"sqlite:///{instance / 'greenshield.db'}", instance, args)
            report("SQLite", outcomes["sqlite"])
        if args.postgres:
            with scratch_database(libpq_url(args.postgres), "summary", args.keep) as (url, _):
                instance = work / "instance-pg"
                instance.mkdir()
                outcomes["postgresql"] = bench(url, instance, args)
            report("PostgreSQL", outcomes["postgresql"])
    finally:
        if args.keep:
            print(f"# kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        write_json(args.json, facts, args, outcomes=outcomes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
