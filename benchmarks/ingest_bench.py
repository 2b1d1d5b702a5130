"""Daily-log ingest throughput: GreenShield end to end against bulk-load baselines and a naive ORM loop.

    python benchmarks/ingest_bench.py [--rows 1000000] [--naive-rows 20000] [--postgres URL] [--json OUT]

One run generates a realistic CSV (one outlet, one day, ~0.5 % invalid rows) with ``inspection.synth``, then:

a) SQLite baseline: the ``sqlite3`` CLI, ``.mode csv`` / ``.import FILE raw`` into a new database file;
b) GreenShield on SQLite: a fresh instance folder, ``greenshield init-db``, the outlet (and its contract
   customers) made through ``greenshield.registry.services``, then ``greenshield ingest CODE FILE`` as a child
   process (wall clock, CPU and peak RSS of that child);
c) the naive way, on the first ``--naive-rows`` rows, extrapolated per row: ``csv.DictReader`` + a marshmallow
   ``Schema.load`` per row + one ``CollectionRecord`` ORM object per row, ``session.add`` and ``commit`` per
   row (and, for reference, the same with one commit at the end);
d) with ``--postgres``: ``psql \\copy raw FROM FILE CSV HEADER`` into a table of text columns vs
   ``greenshield ingest`` with ``DATABASE_URL`` on a scratch database (and the naive loop there too).

Prints rows/s for each, the ratios the targets are set on, and the peak memory of the ingest. These are figures,
not tests: nothing fails when a target is missed. Scratch files go to a temporary folder (``--workdir``) and
scratch PostgreSQL databases are dropped at the end (``--keep`` keeps both).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import hmac
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (BackendCpuSampler, Timing, fmt_rate, greenshield_cli, is_local, libpq_url,  # noqa: E402
                     loadavg, need_tool, print_facts, print_table, run_timed, scratch_database, write_json)
from models.base import CHINA  # noqa: E402

OUTLET = "BENCH-SC-0001"
CONTRACTS = [f"BENCH-CC{i:02d}" for i in range(1, 6)]
COURIERS = [f"C{i:03d}" for i in range(1, 61)]
TARGETS = {"sqlite_import": 10.0, "naive": 10.0, "psql_copy": 10.0, "rss": 400 * 2**20}  # issue 18


# --- the file ----------------------------------------------------------------------------------------------


def generate(path: Path, rows: int, day: dt.date, invalid_ratio: float, seed: int) -> Timing:
    from inspection.synth import generate_rows, write_csv

    start, cpu = time.perf_counter(), time.process_time()
    written = write_csv(generate_rows(rows, outlet_code=OUTLET, day=day, seed=seed, invalid_ratio=invalid_ratio,
                                      courier_ids=COURIERS, contract_customer_codes=CONTRACTS), path)
    return Timing("generate CSV (inspection.synth)", time.perf_counter() - start, cpu_user=time.process_time() - cpu,
                  rows=written)


def head_sample(source: Path, target: Path, rows: int) -> int:
    """The header and the first ``rows`` records of ``source`` (by CSV record, not by line)."""
    with open(source, newline="", encoding="utf-8") as src, open(target, "w", newline="", encoding="utf-8") as out:
        reader, writer = csv.reader(src), csv.writer(out)
        writer.writerow(next(reader))
        n = 0
        for n, record in enumerate(reader, 1):
            writer.writerow(record)
            if n >= rows:
                break
    return n


# --- GreenShield setup -------------------------------------------------------------------------------------


def child_env(instance: Path, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "GREENSHIELD_PII_KEYS")}
    env["GREENSHIELD_INSTANCE"] = str(instance)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def prepare_instance(instance: Path, database_url: str | None, day: dt.date) -> Timing:
    """``greenshield init-db`` on a fresh instance folder, then the outlet and its contract customers."""
    shutil.rmtree(instance, ignore_errors=True)
    instance.mkdir(parents=True)
    timing, _, _ = run_timed("greenshield init-db", greenshield_cli() + ["init-db"],
                             env=child_env(instance, database_url))
    from greenshield import create_app, db
    from greenshield.registry.services import create_contract_customer, create_outlet
    from inspection.synth import make_credit_code

    app = create_app({"INSTANCE_PATH": str(instance),
                      "DATABASE_URL": database_url or f"sqlite:///{instance / 'greenshield.db'}"})
    rng = random.Random(7)
    with app.app_context():
        with db.job_session() as session:
            create_outlet(session, {"code": OUTLET, "name": "基准测试分拨中心", "enterprise_code": "JT",
                                    "region_code": "150100", "kind": "sorting_centre"})
            for code in CONTRACTS:
                create_contract_customer(session, {"code": code, "name": f"协议客户{code[-2:]}",
                                                   "credit_code": make_credit_code(rng), "outlet_code": OUTLET,
                                                   "filed_on": day - dt.timedelta(days=200),
                                                   "valid_until": day + dt.timedelta(days=165)})
        db.database().engine.dispose()
    return timing


def ingest_command(what_if: list[str]) -> list[str]:
    if not what_if:
        return greenshield_cli()
    return [sys.executable, str(Path(__file__).resolve().parent / "whatif.py"), ",".join(what_if), "--"]


def run_greenshield(label: str, instance: Path, database_url: str | None, csv_path: Path, what_if: list[str],
                    admin_url: str | None = None, dbname: str | None = None, one_process: bool = False) -> Timing:
    """``greenshield ingest`` as a child process; a failed ingest is reported, not raised. ``one_process``
    turns off the second reading process (``INGEST_PARALLEL_BYTES`` above the file's size)."""
    config = [f"MAX_UPLOAD_BYTES = {max(256 * 2**20, csv_path.stat().st_size + 2**20)}"]  # 5 M rows: 700 MiB
    if one_process:
        config.append(f"INGEST_PARALLEL_BYTES = {2**62}")
        label += ", one process"
    (instance / "config.py").write_text("\n".join(config) + "\n")
    if what_if:
        label += f" [what-if: {', '.join(what_if)}]"
    argv = ingest_command(what_if) + ["ingest", OUTLET, str(csv_path)]
    env = child_env(instance, database_url)
    if admin_url and dbname and is_local(admin_url):
        with BackendCpuSampler(admin_url, dbname) as sampler:
            timing, out, err = run_timed(label, argv, env=env, check=False)
        timing.server_cpu = sampler.total
    else:
        timing, out, err = run_timed(label, argv, env=env, check=False)
    try:
        body = json.loads(out.strip().splitlines()[-1])
        timing.rows = body["rows_total"]
        timing.notes.update(accepted=body["rows_accepted"], rejected=body["rows_rejected"], status=body["status"])
    except (IndexError, ValueError, KeyError):
        lines = [line for line in err.splitlines() if "Error" in line and not line.startswith(" ")]
        sql = next((line for line in err.splitlines() if line.startswith("[SQL:")), "")
        summary = (lines[-1] if lines else err.strip()[-300:])[:300]
        timing.notes.update(failed=summary, sql=sql[:200])
        timing.label += " FAILED"
        print(f"# {label} FAILED after {timing.wall:.0f} s: {summary}\n#   {sql[:200]}", flush=True)
    return timing


def run_startup(instance: Path, csv_path: Path) -> Timing:
    """What every ``greenshield ingest`` pays before reading a row: imports, the app, the first query
    (an ingest for an outlet that does not exist)."""
    timing, _, _ = run_timed("CLI start-up (ingest of an unknown outlet)",
                             greenshield_cli() + ["ingest", "NO-SUCH-OUTLET", str(csv_path)],
                             env=child_env(instance, None), check=False)
    return timing


# --- the naive way -----------------------------------------------------------------------------------------


def naive_schema():
    """A marshmallow schema of a log row, written the way a first version would be."""
    from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

    from inspection.identity import ID_TYPES

    type_codes = {**{t.name_zh: code for code, t in ID_TYPES.items()}, **{code: code for code in ID_TYPES}}
    truthy = {"是", "Y", "y", "yes", "true", "True", "TRUE", "1"}
    falsy = {"否", "N", "n", "no", "false", "False", "FALSE", "0"}

    class LogTime(fields.Field):
        def _deserialize(self, value, attr, data, **kwargs):
            for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"):
                try:
                    naive = dt.datetime.strptime(value, fmt)
                except ValueError:
                    continue
                return naive.replace(tzinfo=CHINA).astimezone(dt.timezone.utc)
            raise ValidationError("not a date and time")

    class IdType(fields.Field):
        def _deserialize(self, value, attr, data, **kwargs):
            code = type_codes.get(value) or type_codes.get(value.upper())
            if code is None:
                raise ValidationError("unknown ID type")
            return code

    class NaiveRow(Schema):
        class Meta:
            unknown = EXCLUDE

        waybill_no = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{8,32}$"))
        collected_at = LogTime(required=True)
        outlet_code = fields.String(validate=validate.Equal(OUTLET))
        sender_name = fields.String(validate=validate.Length(max=64))
        sender_id_type = IdType()
        sender_id_no = fields.String(validate=validate.Regexp(r"^[0-9A-Za-z０-９Ｘ]{4,32}$"))
        sender_phone = fields.String(validate=validate.Regexp(r"^[0-9+\- ]{5,20}$"))
        item_name = fields.String(required=True, validate=validate.Length(min=1, max=128))
        item_category = fields.String(validate=validate.Length(max=64))
        quantity = fields.Integer(load_default=1, validate=validate.Range(min=1, max=2**31 - 1))
        real_name_verified = fields.Boolean(truthy=truthy, falsy=falsy, load_default=False)
        inspected = fields.Boolean(truthy=truthy, falsy=falsy, load_default=False)
        xray_screened = fields.Boolean(truthy=truthy, falsy=falsy, load_default=False)
        courier_id = fields.String(validate=validate.Length(max=32))
        contract_customer_code = fields.String(validate=validate.Length(max=32))

        @pre_load
        def _drop_empty(self, data, **kwargs):
            return {k: v.strip() for k, v in data.items() if k and v and v.strip()}

    return NaiveRow, ValidationError


def run_naive(label: str, database_url: str, instance: Path, sample: Path, day: dt.date, *,
              commit_each: bool) -> Timing:
    """Load ``sample`` row by row through marshmallow and the ORM into a freshly migrated database."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from sqlalchemy.orm import Session

    from greenshield import migrate
    from greenshield.db import make_engine
    from greenshield.reference import load_reference_data
    from greenshield.registry.services import create_outlet
    from models import BatchStatus, CollectionRecord, UploadBatch

    if database_url.startswith("sqlite:///"):
        Path(database_url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    with Session(engine) as session:
        load_reference_data(session)
        outlet = create_outlet(session, {"code": OUTLET, "name": "naive", "enterprise_code": "JT",
                                         "region_code": "150100", "kind": "sorting_centre"})
        batch = UploadBatch(outlet=outlet, sha256="0" * 64, filename=sample.name, size_bytes=sample.stat().st_size,
                            format="csv", encoding="utf-8", strict=False, status=BatchStatus.ACCEPTED, warnings=[],
                            source="cli")
        session.add(batch)
        session.commit()
        outlet_id, batch_id = outlet.id, batch.id

    schema_class, validation_error = naive_schema()
    schema = schema_class()
    aead, index_key = AESGCM(os.urandom(32)), os.urandom(32)
    china = CHINA
    accepted = rejected = 0
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session, open(sample, newline="", encoding="utf-8") as f:
        for row_no, raw in enumerate(csv.DictReader(f), 2):
            try:
                data = schema.load(raw)
            except validation_error:
                rejected += 1
                continue
            id_no, phone = data.get("sender_id_no"), data.get("sender_phone")
            nonce = os.urandom(12)
            record = CollectionRecord(
                outlet_id=outlet_id, waybill_no=data["waybill_no"].upper(), version=1, is_current=True,
                batch_id=batch_id, row_no=row_no, collected_at=data["collected_at"],
                collected_on=data["collected_at"].astimezone(china).date(), sender_name=data.get("sender_name", ""),
                sender_id_type=data.get("sender_id_type"),
                sender_id_enc=nonce + aead.encrypt(nonce, id_no.encode(), None) if id_no else None,
                sender_id_hmac=hmac.new(index_key, id_no.encode(), hashlib.sha256).hexdigest() if id_no else None,
                sender_phone_enc=nonce + aead.encrypt(nonce, phone.encode(), b"p") if phone else None,
                sender_phone_hmac=hmac.new(index_key, phone.encode(), hashlib.sha256).hexdigest() if phone else None,
                item_name=data["item_name"], item_category=data.get("item_category"), quantity=data["quantity"],
                real_name_verified=data["real_name_verified"], inspected=data["inspected"],
                xray_screened=data["xray_screened"],
                real_name_compliant=bool(data["real_name_verified"] and id_no) or "contract_customer_code" in data,
                courier_id=data.get("courier_id"), contract_customer_code=data.get("contract_customer_code"),
                content_hash=hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest())
            session.add(record)
            accepted += 1
            if commit_each:
                session.commit()
        session.commit()
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    engine.dispose()
    return Timing(label, wall, cpu_user=cpu, rows=accepted + rejected,
                  notes={"accepted": accepted, "rejected": rejected})


# --- baselines ---------------------------------------------------------------------------------------------


def run_sqlite_import(db_path: Path, csv_path: Path) -> Timing:
    sqlite3 = need_tool("sqlite3", "sqlite3")
    db_path.unlink(missing_ok=True)
    script = f".mode csv\n.import '{csv_path}' raw\n"
    timing, _, err = run_timed("sqlite3 .import", [sqlite3, str(db_path)], stdin=script)
    if err.strip():
        print(f"# sqlite3 said: {err.strip()[:300]}")
    import sqlite3 as sqlite

    with sqlite.connect(db_path) as conn:
        timing.rows = conn.execute("SELECT count(*) FROM raw").fetchone()[0]
    return timing


def run_psql_copy(url: str, dbname: str, admin_url: str, csv_path: Path) -> Timing:
    psql = need_tool("psql", "postgresql-client")
    with open(csv_path, newline="", encoding="utf-8") as f:
        columns = next(csv.reader(f))
    create = "CREATE TABLE raw (" + ", ".join(f'"{c}" text' for c in columns) + ")"
    run_timed("psql create", [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", create])
    argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", f"\\copy raw FROM '{csv_path}' CSV HEADER"]
    if is_local(admin_url):
        with BackendCpuSampler(admin_url, dbname) as sampler:
            timing, _, _ = run_timed("psql \\copy", argv)
        timing.server_cpu = sampler.total
    else:
        timing, _, _ = run_timed("psql \\copy", argv)
    _, out, _ = run_timed("psql count", [psql, "-X", "-At", url, "-c", "SELECT count(*) FROM raw"])
    timing.rows = int(out.strip())
    return timing


# --- report ------------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--naive-rows", type=int, default=20_000, help="rows of the naive sample (default 20000)")
    parser.add_argument("--invalid-ratio", type=float, default=0.005)
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 3, 2),
                        help="collection day of the file (default 2026-03-02)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-sqlite", action="store_true", help="only the PostgreSQL part")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and databases")
    parser.add_argument("--what-if", type=lambda v: [p for p in v.split(",") if p], default=[],
                        help="run the ingest with proposed changes patched in (see benchmarks/whatif.py): "
                             "bounded_in, render_nulls, sqlite_cache")
    parser.add_argument("--one-process", action="store_true",
                        help="also run the ingest without its second reading process, on a fresh database")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    facts = print_facts({"rows": args.rows, "naive sample": args.naive_rows, "invalid ratio": args.invalid_ratio,
                         "what-if": ", ".join(args.what_if) or "none (the code as it is)"})
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gs-ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Timing] = {}
    try:
        csv_path = work / f"daily-log-{args.rows}.csv"
        if not csv_path.exists():
            results["generate"] = generate(csv_path, args.rows, args.day, args.invalid_ratio, args.seed)
            print(f"generated {args.rows:,} rows ({csv_path.stat().st_size / 2**20:.1f} MiB) in "
                  f"{results['generate'].wall:.1f} s")
        sample = work / f"naive-sample-{args.naive_rows}.csv"
        head_sample(csv_path, sample, args.naive_rows)

        if not args.skip_sqlite:
            print(f"[{loadavg()}] a) sqlite3 .import ...", flush=True)
            results["sqlite_import"] = run_sqlite_import(work / "import.sqlite", csv_path)
            print(f"[{loadavg()}] b) greenshield ingest on SQLite ...", flush=True)
            instance = work / "instance-sqlite"
            results["setup_sqlite"] = prepare_instance(instance, None, args.day)
            results["startup"] = run_startup(instance, csv_path)
            results["ours_sqlite"] = run_greenshield("greenshield ingest (SQLite)", instance, None, csv_path,
                                                     args.what_if)
            if args.one_process:
                print(f"[{loadavg()}] b) greenshield ingest on SQLite, one process ...", flush=True)
                instance = work / "instance-sqlite-1"
                prepare_instance(instance, None, args.day)
                results["ours_sqlite_1"] = run_greenshield("greenshield ingest (SQLite)", instance, None, csv_path,
                                                           args.what_if, one_process=True)
            if not args.skip_naive:
                print(f"[{loadavg()}] c) naive loop on SQLite ({args.naive_rows:,} rows) ...", flush=True)
                results["naive_sqlite"] = run_naive("naive, commit per row (SQLite)",
                                                    f"sqlite:///{work / 'naive-each.sqlite'}", work, sample,
                                                    args.day, commit_each=True)
                results["naive_sqlite_once"] = run_naive("naive, one commit (SQLite)",
                                                         f"sqlite:///{work / 'naive-once.sqlite'}", work, sample,
                                                         args.day, commit_each=False)

        if args.postgres:
            admin = libpq_url(args.postgres)
            print(f"[{loadavg()}] d) psql \\copy ...", flush=True)
            with scratch_database(admin, "copy", args.keep) as (url, name):
                results["psql_copy"] = run_psql_copy(url, name, admin, csv_path)
            print(f"[{loadavg()}] d) greenshield ingest on PostgreSQL ...", flush=True)
            with scratch_database(admin, "ingest", args.keep) as (url, name):
                instance = work / "instance-pg"
                results["setup_pg"] = prepare_instance(instance, url, args.day)
                results["ours_pg"] = run_greenshield("greenshield ingest (PostgreSQL)", instance, url, csv_path,
                                                     args.what_if, admin, name)
            if args.one_process:
                print(f"[{loadavg()}] d) greenshield ingest on PostgreSQL, one process ...", flush=True)
                with scratch_database(admin, "ingest1", args.keep) as (url, name):
                    instance = work / "instance-pg-1"
                    prepare_instance(instance, url, args.day)
                    results["ours_pg_1"] = run_greenshield("greenshield ingest (PostgreSQL)", instance, url,
                                                           csv_path, args.what_if, admin, name, one_process=True)
            if not args.skip_naive:
                print(f"[{loadavg()}] d) naive loop on PostgreSQL ({args.naive_rows:,} rows) ...", flush=True)
                with scratch_database(admin, "naive", args.keep) as (url, _):
                    results["naive_pg"] = run_naive("naive, commit per row (PostgreSQL)", url, work, sample,
                                                    args.day, commit_each=True)
                with scratch_database(admin, "naive1", args.keep) as (url, _):
                    results["naive_pg_once"] = run_naive("naive, one commit (PostgreSQL)", url, work, sample,
                                                         args.day, commit_each=False)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"# kept {work}")

    print(f"\n# results ({args.rows:,} rows; load average now {loadavg()})\n")
    shown = [t for key, t in results.items() if not key.startswith("setup")]
    print_table(["step", "rows", "wall s", "rows/s", "CPU s (client)", "CPU s (PG server)", "peak RSS MiB",
                 "peak RSS, all processes MiB"],
                [[t.label, f"{t.rows:,}", f"{t.wall:.2f}", fmt_rate(t.rows_per_s), f"{t.cpu:.2f}",
                  "" if t.server_cpu is None else f"{t.server_cpu:.2f}",
                  f"{t.max_rss / 2**20:.0f}" if t.max_rss else "",
                  f"{t.tree_rss / 2**20:.0f}" if t.tree_rss else ""] for t in shown])

    ratios = []
    failed = {k for k, t in results.items() if "failed" in t.notes}
    per_row = {k: t.wall / t.rows for k, t in results.items() if t.rows and k not in failed}
    for key in ("ours_sqlite", "ours_sqlite_1"):
        if key in results and "sqlite_import" in results and key not in failed:
            r = results[key].wall / results["sqlite_import"].wall
            cpu = results[key].cpu / max(results["sqlite_import"].cpu, 1e-9)
            ratios.append([f"{results[key].label} / sqlite3 .import", f"{r:.1f}x (CPU {cpu:.1f}x)",
                           f"<= {TARGETS['sqlite_import']:.0f}x", verdict(r <= TARGETS["sqlite_import"])])
    for naive_key, ours_key, where in (("naive_sqlite", "ours_sqlite", "SQLite"),
                                       ("naive_sqlite_once", "ours_sqlite", "SQLite"),
                                       ("naive_pg", "ours_pg", "PostgreSQL"),
                                       ("naive_pg_once", "ours_pg", "PostgreSQL")):
        if naive_key in per_row and ours_key in per_row:
            r = per_row[naive_key] / per_row[ours_key]
            what = "commit per row" if not naive_key.endswith("once") else "one commit"
            ratios.append([f"naive ({what}) / ours, per row ({where})", f"{r:.1f}x",
                           f">= {TARGETS['naive']:.0f}x", verdict(r >= TARGETS["naive"])])
    for key in ("ours_pg", "ours_pg_1"):
        if key in results and "psql_copy" in results and key not in failed:
            ours, copy = results[key], results["psql_copy"]
            r = ours.wall / copy.wall
            cpu = (ours.cpu + (ours.server_cpu or 0)) / max(copy.cpu + (copy.server_cpu or 0), 1e-9)
            ratios.append([f"{ours.label} / psql \\copy", f"{r:.1f}x (CPU client+server {cpu:.1f}x)",
                           f"<= {TARGETS['psql_copy']:.0f}x", verdict(r <= TARGETS["psql_copy"])])
    for key in ("ours_sqlite", "ours_sqlite_1", "ours_pg", "ours_pg_1"):
        if key in results and key not in failed:
            rss = max(results[key].max_rss, results[key].tree_rss)
            ratios.append([f"peak RSS (all its processes), {results[key].label}", f"{rss / 2**20:.0f} MiB",
                           f"<= {TARGETS['rss'] / 2**20:.0f} MiB", verdict(rss <= TARGETS["rss"])])
    for key in sorted(failed):
        t = results[key]
        ratios.append([t.label, f"failed after {t.wall:.0f} s: {t.notes['failed'][:120]}", "completes", "NOT met"])
    print()
    print_table(["ratio", "measured", "target", "verdict"], ratios)

    if args.json:
        write_json(args.json, facts, args, results={k: t.as_dict() for k, t in results.items()}, ratios=ratios)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
