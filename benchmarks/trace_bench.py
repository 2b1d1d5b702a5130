"""Traceability latency on a province-sized history: trace by sender ID (target p95 <= 50 ms, access-log write
included), by waybill and phone, as an inspector, and the access log's own costs.

    python benchmarks/trace_bench.py [--records 10000000] [--runs 300] [--postgres URL] [--skip-sqlite] [--json OUT]

Fills a freshly migrated database (SQLite in a temporary instance folder, or a scratch PostgreSQL database with
``--postgres``) with ``--records`` collection records by Core bulk inserts (not through the ingest): 2,000
outlets, one year of collection times, senders with a realistic spread of parcels each (log-normal: most send a
handful, a few shops send hundreds), every record with its ID and phone number encrypted (AES-GCM) and
blind-indexed (HMAC) under the instance's real personal-data key, exactly as the ingest stores them. The
secondary indexes are dropped for the load and rebuilt afterwards, as a bulk back-fill would. The access log is
pre-filled with ``--log-entries`` chained entries.

Then, through the Flask test client with bearer tokens, each request measured end to end (routing, policy,
rate limit, query, decryption, JSON, the access-log append and the commit):

- ``POST /api/v1/trace`` by sender ID for senders drawn uniformly, and for the senders of random parcels (which
  favours busy senders), by an investigator under an approved case (results in clear, added to the case);
- by waybill and by phone (investigator), by waybill (inspector, masked, no case);
- by sender name over a month (index `ix_collection_records_sender_name_day`; a few runs only);
- one ``accesslog.append`` + commit alone, and ``greenshield access-log verify`` over the whole log.

Prints p50 / p95 / max wall-clock milliseconds, the client process's CPU milliseconds per request (what the
request costs this process, whatever else the machine runs; the database server's CPU is not in it for
PostgreSQL) and the 1-minute load average when each series ended, as Markdown tables, and the query plan of the
sender-ID match.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import libpq_url, loadavg, print_facts, print_table, scratch_database, write_json  # noqa: E402
from models.base import CHINA  # noqa: E402

TARGET_MS = 50.0
LEAGUES = ["150100", "150200", "150300", "150400", "150500", "150600", "150700", "150800", "150900", "152200",
           "152500", "152900"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力斌宇浩凯鹏晨阳雪梅琳"
ITEMS = ("服装", "羊绒衫", "茶叶", "手机配件", "书籍", "牛肉干", "奶制品", "化妆品", "文件", "日用品")
END = dt.datetime(2026, 10, 31, 16, 0, tzinfo=dt.timezone.utc)
CHUNK = 50_000


def resident_id(n: int, rng) -> str:
    from inspection.identity import gb11643_check_char

    birth = dt.date(1950, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 55)))
    body = f"{LEAGUES[n % len(LEAGUES)]}{birth:%Y%m%d}{n % 1000:03d}"
    return body + gb11643_check_char(body)


def senders_of(records: int, rng):
    """Which sender sent each record: parcels per sender log-normal (median about 4, a long tail to 2,000)."""
    import numpy as np

    n_senders = max(1, records // 7)
    counts = np.clip(np.ceil(rng.lognormal(1.3, 1.0, n_senders)), 1, 2000).astype(np.int64)
    owner = np.repeat(np.arange(n_senders), counts)[:records]
    if len(owner) < records:
        owner = np.concatenate([owner, rng.integers(0, n_senders, records - len(owner))])
    rng.shuffle(owner)
    return owner, n_senders


def population(args, vault) -> dict:
    """Who sent what: the same for the same ``--records`` and ``--seed``, so a filled database can be reused."""
    import numpy as np

    from greenshield.personal.keyring import ID_NO, PHONE

    rng = np.random.default_rng(args.seed)
    owner, n_senders = senders_of(args.records, rng)
    ids = [resident_id(n, rng) for n in range(n_senders)]
    phones = [f"1{3 + n % 7}{n:09d}"[:11] for n in range(n_senders)]
    names = [SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 7) % len(GIVEN)] + GIVEN[(n // 3) % len(GIVEN)]
             for n in range(n_senders)]
    material = [(vault.encrypt(i, ID_NO), vault.index(i, ID_NO), vault.encrypt(p, PHONE), vault.index(p, PHONE))
                for i, p in zip(ids, phones)]
    return {"owner": owner, "ids": ids, "phones": phones, "names": names, "material": material,
            "outlet_of": rng.integers(0, args.outlets, args.records),
            "seconds": rng.integers(0, 365 * 86400, args.records)}


def fill(engine, people: dict, args) -> dict:
    """Outlets, one batch per outlet, the records, the indexes rebuilt after the load; timings of each."""
    from sqlalchemy import insert, select, text

    from models import CollectionRecord, Enterprise, Outlet, UploadBatch

    now = dt.datetime.now(dt.timezone.utc)
    made: dict = {"records": args.records, "senders": len(people["ids"])}
    t0 = time.perf_counter()
    with engine.begin() as conn:
        enterprises = [row[0] for row in conn.execute(select(Enterprise.id).order_by(Enterprise.id))]
        conn.execute(insert(Outlet.__table__), [
            {"code": f"BN-{i:05d}", "name": f"基准网点{i:05d}", "enterprise_id": enterprises[i % len(enterprises)],
             "region_code": LEAGUES[i % len(LEAGUES)], "kind": "outlet", "active": True, "created_at": now}
            for i in range(1, args.outlets + 1)])
        outlet_ids = [row[0] for row in conn.execute(select(Outlet.id).order_by(Outlet.id))]
        conn.execute(insert(UploadBatch.__table__), [
            {"outlet_id": o, "sha256": f"{o:064x}", "filename": f"bench-{o}.csv", "size_bytes": 0, "format": "csv",
             "encoding": "utf-8", "strict": False, "status": "accepted", "rows_total": 0, "rows_accepted": 0,
             "rows_rejected": 0, "rows_skipped": 0, "rows_corrected": 0, "warnings": [], "source": "cli",
             "created_at": now} for o in outlet_ids])
        batch_of = dict(conn.execute(select(UploadBatch.outlet_id, UploadBatch.id)).all())
    owner, material, names = people["owner"], people["material"], people["names"]
    outlet_of, seconds = people["outlet_of"], people["seconds"]
    made["prepare_s"] = round(time.perf_counter() - t0, 1)

    table = CollectionRecord.__table__
    indexes = list(table.indexes)
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn)
    t1 = time.perf_counter()
    stmt = insert(table)
    for start in range(0, args.records, CHUNK):
        rows = []
        for i in range(start, min(start + CHUNK, args.records)):
            sender = int(owner[i])
            id_enc, id_hmac, phone_enc, phone_hmac = material[sender]
            name = names[sender]
            outlet_id = outlet_ids[int(outlet_of[i])]
            at = END - dt.timedelta(seconds=int(seconds[i]))
            rows.append({
                "outlet_id": outlet_id, "waybill_no": f"BN{i:012d}", "version": 1, "is_current": True,
                "batch_id": batch_of[outlet_id], "row_no": i % 100_000 + 2, "collected_at": at,
                "collected_on": at.astimezone(CHINA).date(), "sender_name": name, "sender_id_type": "RESIDENT_ID",
                "sender_id_enc": id_enc, "sender_id_hmac": id_hmac, "sender_phone_enc": phone_enc,
                "sender_phone_hmac": phone_hmac, "item_name": ITEMS[i % len(ITEMS)], "item_category": None,
                "quantity": 1, "real_name_verified": True, "inspected": True, "xray_screened": True,
                "real_name_compliant": True, "courier_id": None, "contract_customer_code": None,
                "content_hash": f"{i:064x}", "created_at": now})
        with engine.begin() as conn:
            conn.execute(stmt, rows)
        done = min(start + CHUNK, args.records)
        if done % 1_000_000 == 0 or done == args.records:
            rate = done / (time.perf_counter() - t1)
            print(f"[{loadavg()}] {done:,} records, {rate:,.0f}/s", flush=True)
    made["insert_s"] = round(time.perf_counter() - t1, 1)
    t2 = time.perf_counter()
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET maintenance_work_mem = '1GB'"))
        for index in indexes:
            index.create(conn)
    made["index_s"] = round(time.perf_counter() - t2, 1)
    t3 = time.perf_counter()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # what autovacuum does shortly after a bulk load
    made["analyze_s"] = round(time.perf_counter() - t3, 1)
    return made


def fill_access_log(engine, entries: int, user) -> float:
    """A chain of ``entries`` entries (valid hashes), so appends and verification run on a log that has a past."""
    from sqlalchemy import insert

    from greenshield.trace import accesslog
    from models import AccessLogEntry

    t0 = time.perf_counter()
    prev, rows = accesslog.GENESIS, []
    start = END - dt.timedelta(days=365)
    for seq in range(1, entries + 1):
        fields = {"seq": seq, "at": start + dt.timedelta(seconds=seq * 300), "user_id": user.id,
                  "username": user.username, "role": "investigator", "agency": "基准公安局", "action": "trace",
                  "case_no": f"OLD-{seq // 50}", "query_type": "sender_id", "subject_hash": f"{seq:064x}",
                  "result_count": seq % 7, "outcome": "ok", "client_addr": "10.1.2.3", "request_id": f"r{seq}"}
        entry_hash = accesslog.chain_hash(prev, accesslog.hashed_fields(fields))
        rows.append({**fields, "prev_hash": prev, "entry_hash": entry_hash})
        prev = entry_hash
        if len(rows) == 20_000 or seq == entries:
            with engine.begin() as conn:
                conn.execute(insert(AccessLogEntry.__table__), rows)
            rows = []
    return time.perf_counter() - t0


def percentiles(samples: list[float]) -> dict:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)]
    return {"p50_ms": statistics.median(samples), "p95_ms": p95, "max_ms": samples[-1], "runs": len(samples)}


def timed(client, label: str, bodies: list[dict], headers: dict, warmup: int = 10) -> dict:
    for body in bodies[:warmup]:
        client.post("/api/v1/trace", json=body, headers=headers)
    samples, cpu, counts = [], [], []
    for body in bodies[warmup:]:
        start, start_cpu = time.perf_counter(), time.process_time()
        response = client.post("/api/v1/trace", json=body, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{label}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        counts.append(response.get_json()["count"])
    cpu_p = percentiles(cpu)
    return {"case": label, "results_median": statistics.median(counts), "results_max": max(counts),
            **percentiles(samples), "cpu_p50_ms": cpu_p["p50_ms"], "cpu_p95_ms": cpu_p["p95_ms"],
            "loadavg": os.getloadavg()[0]}


def sender_plan(engine, hmac: str) -> str:
    from sqlalchemy import text

    if engine.dialect.name == "sqlite":
        sql = ("EXPLAIN QUERY PLAN SELECT outlet_id, waybill_no FROM collection_records WHERE sender_id_hmac = :h "
               "AND sender_id_type = 'RESIDENT_ID' GROUP BY outlet_id, waybill_no ORDER BY min(collected_at)")
        with engine.connect() as conn:
            return "; ".join(row[-1] for row in conn.execute(text(sql), {"h": hmac}))
    sql = ("EXPLAIN SELECT outlet_id, waybill_no FROM collection_records WHERE sender_id_hmac = :h "
           "AND sender_id_type = 'RESIDENT_ID' GROUP BY outlet_id, waybill_no ORDER BY min(collected_at)")
    with engine.connect() as conn:
        return "; ".join(row[0].strip() for row in conn.execute(text(sql), {"h": hmac}))


def bench(database_url: str, instance: Path, args) -> dict:
    """Fill (unless ``instance`` holds a database filled before with the same arguments), then measure."""
    import numpy as np
    from sqlalchemy import select, text

    from greenshield import create_app, db, migrate
    from greenshield.personal import keyring
    from greenshield.auth.services import create_user, issue_token
    from greenshield.personal import ensure_key_state
    from greenshield.reference import load_reference_data
    from greenshield.trace import accesslog
    from models import Case, CaseStatus, Role, User

    app = create_app({"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance), "SECRET_KEY": "bench",
                      "TRACE_RATE_LIMIT": "1000000 per minute"})
    engine = app.extensions[db.EXTENSION].engine
    marker = instance / "filled.json"
    reuse = marker.exists() and json.loads(marker.read_text()).get("key") == [args.records, args.seed, args.outlets]
    if not reuse:
        migrate.upgrade(engine)
        with app.app_context(), db.job_session() as session:
            load_reference_data(session)
            ensure_key_state(session, str(instance))
            investigator = create_user(session, username="bench-investigator", password="bench-password-1",
                                       role=Role.INVESTIGATOR, agency="基准市公安局")
            auditor = create_user(session, username="bench-auditor", password="bench-password-1", role=Role.AUDITOR)
            create_user(session, username="bench-inspector", password="bench-password-1", role=Role.INSPECTOR,
                        region_code="150000")
            session.add(Case(case_no="BENCH-2026-1", agency="基准市公安局", legal_basis="bench", purpose="bench",
                             valid_until=dt.date(2099, 1, 1), status=CaseStatus.APPROVED,
                             investigator_id=investigator.id, decided_by_id=auditor.id))
    with app.app_context(), db.job_session() as session:
        version = ensure_key_state(session, str(instance))
        investigator = session.scalar(select(User).where(User.username == "bench-investigator"))
        inspector = session.scalar(select(User).where(User.username == "bench-inspector"))
        _, inv_token = issue_token(session, investigator, days=30)
        _, insp_token = issue_token(session, inspector, days=30)
    vault = keyring.Vault(keyring.load_keyring(instance), version)
    t0 = time.perf_counter()
    data = population(args, vault)
    print(f"population of {len(data['ids']):,} senders in {time.perf_counter() - t0:.1f} s", flush=True)
    if reuse:
        made = json.loads(marker.read_text())["made"]
        print("reusing the database filled before", flush=True)
    else:
        made = fill(engine, data, args)
        made["access_log_entries"] = args.log_entries
        made["access_log_fill_s"] = round(fill_access_log(engine, args.log_entries, investigator), 1)
        made["fill_total_s"] = round(time.perf_counter() - t0, 1)
        if engine.dialect.name == "sqlite":
            made["database_bytes"] = sum(p.stat().st_size for p in instance.glob("greenshield.db*"))
        else:
            with engine.connect() as conn:
                made["database_bytes"] = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        marker.write_text(json.dumps({"key": [args.records, args.seed, args.outlets], "made": made}))
    print(f"filled: {json.dumps(made)}", flush=True)

    rng = np.random.default_rng(args.seed + 1)
    ids, phones, names, owner = data["ids"], data["phones"], data["names"], data["owner"]
    case_no = "BENCH-2026-1"
    n = args.runs + 10
    uniform = [int(s) for s in rng.integers(0, len(ids), n)]
    busy = [int(owner[int(r)]) for r in rng.integers(0, args.records, n)]
    waybills = [f"BN{int(r):012d}" for r in rng.integers(0, args.records, n)]
    inv_h = {"Authorization": f"Bearer {inv_token}"}
    insp_h = {"Authorization": f"Bearer {insp_token}"}
    by_id = lambda s: {"case_no": case_no, "sender_id_type": "RESIDENT_ID", "sender_id_no": ids[s]}  # noqa: E731
    month = {"from": "2026-06-01", "to": "2026-06-30"}
    cases = [
        ("sender ID, uniform senders (investigator)", [by_id(s) for s in uniform], inv_h, 10),
        ("sender ID, senders of random parcels (investigator)", [by_id(s) for s in busy], inv_h, 10),
        ("waybill (investigator)", [{"case_no": case_no, "waybill_no": w} for w in waybills], inv_h, 10),
        ("sender phone (investigator)", [{"case_no": case_no, "sender_phone": phones[s]} for s in uniform], inv_h, 10),
        ("waybill (inspector, masked, no case)", [{"waybill_no": w} for w in waybills], insp_h, 10),
        ("sender name, one month (1 + 5 runs)",
         [{"case_no": case_no, "sender_name": names[s], **month} for s in uniform[:6]], inv_h, 1),
    ]
    if args.skip_name:
        cases = cases[:-1]
    client = app.test_client()
    results = []
    for label, bodies, headers, warmup in cases:
        print(f"[{loadavg()}] {label} ...", flush=True)
        results.append(timed(client, label, bodies, headers, warmup))

    appends = []
    with app.app_context():
        for i in range(200):
            start = time.perf_counter()
            with db.job_session(write=True) as session:
                accesslog.append(session, user=session.get(type(investigator), investigator.id), action="trace",
                                 case_no=case_no, query_type="sender_id", subject_hash=f"{i:064x}", result_count=1)
            appends.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        with db.job_session() as session:
            verified = accesslog.verify(session, None, None)
        verify_s = time.perf_counter() - start
    plan = sender_plan(engine, vault.index(ids[uniform[0]], keyring.ID_NO))
    engine.dispose()
    return {"made": made, "results": results, "append": percentiles(appends),
            "verify": {"entries": verified.entries, "ok": verified.ok, "seconds": round(verify_s, 2),
                       "entries_per_s": round(verified.entries / verify_s)},
            "plan": plan}


def report(title: str, outcome: dict) -> None:
    made = outcome["made"]
    print(f"\n# {title}: {made['records']:,} records from {made['senders']:,} senders; access log "
          f"{made['access_log_entries']:,} entries; database {made['database_bytes'] / 2**30:.1f} GiB "
          f"(load average now {loadavg()})")
    print(f"# fill: prepare {made['prepare_s']} s, insert {made['insert_s']} s, indexes {made['index_s']} s, "
          f"analyze {made['analyze_s']} s, access log {made['access_log_fill_s']} s\n")
    rows = []
    for r in outcome["results"]:
        verdict = ("met" if r["p95_ms"] <= TARGET_MS else "NOT met") if r["case"].startswith("sender ID") else ""
        rows.append([r["case"], r["runs"], f"{r['results_median']:g}", r["results_max"], f"{r['p50_ms']:.1f}",
                     f"{r['p95_ms']:.1f}", f"{r['max_ms']:.1f}", f"{r['cpu_p50_ms']:.1f} / {r['cpu_p95_ms']:.1f}",
                     f"{r['loadavg']:.1f}", verdict])
    append = outcome["append"]
    rows.append(["access-log append + commit alone", append["runs"], "", "", f"{append['p50_ms']:.2f}",
                 f"{append['p95_ms']:.2f}", f"{append['max_ms']:.2f}", "", "", ""])
    print_table(["request", "runs", "results (median)", "results (max)", "p50 ms", "p95 ms", "max ms",
                 "client CPU p50 / p95 ms", "load", "p95 <= 50 ms"], rows)
    verify = outcome["verify"]
    print(f"\naccess-log verify: {verify['entries']:,} entries in {verify['seconds']} s "
          f"({verify['entries_per_s']:,}/s), ok={verify['ok']}")
    print(f"plan of the sender-ID match: {outcome['plan']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--outlets", type=int, default=2000)
    parser.add_argument("--log-entries", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-name", action="store_true", help="skip the sender-name query (a full scan)")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new temporary one); with --keep, "
                        "a later run with the same folder and arguments measures again without filling again")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and database")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    facts = print_facts({"records": args.records, "runs": args.runs, "log_entries": args.log_entries})
    work = args.workdir or Path(tempfile.mkdtemp(prefix="gs-trace-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    outcomes = {}
    try:
        if not args.skip_sqlite:
            instance = work / "instance-sqlite"
            instance.mkdir(exist_ok=True)
            outcomes["sqlite"] = bench(f"sqlite:///{instance / 'greenshield.db'}", instance, args)
            report("SQLite", outcomes["sqlite"])
        if args.postgres:
            instance = work / "instance-pg"
            marker = instance / "database_url"
            if marker.exists():
                outcomes["postgresql"] = bench(marker.read_text().strip(), instance, args)
            else:
                with scratch_database(libpq_url(args.postgres), "trace", args.keep) as (url, _):
                    instance.mkdir(exist_ok=True)
                    if args.keep:
                        marker.write_text(url)
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
