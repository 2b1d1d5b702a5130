"""Load: a realistic mix of requests against ``greenshield serve --workers 4``, at rising concurrency.

    python benchmarks/load/run.py [--postgres URL] [--steps 1,2,4,8,16] [--step-seconds 20] [--json OUT]

Sets up a fresh instance (``init-db``, ``seed-demo --days 7``; SQLite in a temporary folder, or a scratch
PostgreSQL database next to ``--postgres``), issues bearer tokens, registers and approves a case, then starts
``greenshield serve --workers 4`` and drives it with closed-loop clients (each sends its next request when the
last one answered) for ``--step-seconds`` per concurrency step. The mix, by share of requests:

- 35 % dashboard reads: ``GET /api/v1/compliance/summary`` (league table) and the league page ``/dashboard/``;
- 25 % traces: ``POST /api/v1/trace`` by sender ID under the approved case (investigator; with the
  access-log write) and by waybill (inspector, masked);
- 25 % X-ray events: ``POST /api/v1/xray-events`` with a 640x480 PNG scan (scored with its heat map);
- 15 % daily-log uploads: ``POST /api/v1/outlets/<code>/daily-logs`` with a new 200-row CSV each time.

Prints per step: throughput, p50/p95/p99 over all requests and the machine's CPU busy share (from /proc/stat,
the load generator included: it runs on the same 2 cores); then per route at each step; and the saturation
point: the step after which throughput grows by less than 10 % while p95 keeps rising. The trace rate limit is
raised in the instance's config.py for the run (it would answer 429 to a load test by design).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO, greenshield_cli, loadavg, print_facts, print_table, scratch_database  # noqa: E402

import requests  # noqa: E402
from models.base import CHINA  # noqa: E402

MIX = (("dashboard", 35), ("trace", 25), ("xray", 25), ("upload", 15))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def cli(env: dict, *args: str) -> str:
    done = subprocess.run([*greenshield_cli(), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"greenshield {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def token(env: dict, username: str) -> dict:
    return {"Authorization": "Bearer " + cli(env, "users", "token", username, "--days", "2").strip().splitlines()[-1]}


class World:
    """What the clients need: tokens, outlets, machines, a case, IDs and waybills that exist, a scan."""

    def __init__(self, env: dict, base: str):
        from inspection.synth import generate_rows

        self.base = base
        self.h = {name: token(env, name) for name in ("admin", "inspector", "investigator", "auditor")}
        self.outlets = [o["code"] for o in requests.get(f"{base}/api/v1/outlets?page_size=100",
                                                        headers=self.h["admin"], timeout=30).json()]
        self.machines = [m["code"] for m in requests.get(f"{base}/api/v1/xray-machines?page_size=100",
                                                         headers=self.h["admin"], timeout=30).json()]
        day = dt.datetime.now(CHINA).date() - dt.timedelta(days=1)
        self.day = day
        rows = list(generate_rows(300, outlet_code=self.outlets[0], day=day, seed=7, waybill_prefix="LT",
                                  noncompliant_ratio=0))
        residents = ("居民身份证", "RESIDENT_ID", "resident_id")
        self.ids = [r["sender_id_no"] for r in rows if r["sender_id_type"] in residents and r["sender_id_no"]][:100]
        self.waybills = [r["waybill_no"] for r in rows][:100]
        post_log(requests, base, self.h["admin"], self.outlets[0], rows)
        case_no = f"LOAD-{os.getpid()}"
        case = requests.post(f"{base}/api/v1/cases", headers=self.h["investigator"], timeout=30, json={
            "case_no": case_no, "legal_basis": "load test", "purpose": "load test",
            "valid_until": (day + dt.timedelta(days=10)).isoformat()}).json()
        requests.post(f"{base}/api/v1/cases/{case['id']}/approve", headers=self.h["auditor"], timeout=30)
        self.case_no = case_no
        import cv2
        import numpy as np

        from inspection.xray.procedural import benign_bag
        bag = benign_bag(np.random.default_rng(3), size=(480, 640), colour=True)
        self.scan = cv2.imencode(".png", np.round(bag * 255).astype(np.uint8))[1].tobytes()
        self.upload_seq = iter(range(1, 10**9))
        self.lock = threading.Lock()

    def next_upload(self) -> tuple[str, list[dict]]:
        from inspection.synth import generate_rows

        with self.lock:
            n = next(self.upload_seq)
        outlet = self.outlets[n % len(self.outlets)]
        return outlet, list(generate_rows(200, outlet_code=outlet, day=self.day, seed=1000 + n,
                                          waybill_prefix=f"L{n % 10}", invalid_ratio=0.01))


def post_log(http, base: str, headers: dict, outlet: str, rows: list[dict]) -> requests.Response:
    """Upload ``rows`` as a CSV daily log of ``outlet`` (``http``: requests or a requests.Session)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return http.post(f"{base}/api/v1/outlets/{outlet}/daily-logs", headers=headers, timeout=300,
                     files={"file": ("log.csv", out.getvalue().encode(), "text/csv")})


def one_request(world: World, http: requests.Session, kind: str, rng: random.Random) -> tuple[str, int]:
    base, h = world.base, world.h
    if kind == "dashboard":
        if rng.random() < 0.7:
            return "GET /api/v1/compliance/summary", http.get(
                f"{base}/api/v1/compliance/summary?date={world.day}", headers=h["inspector"], timeout=120).status_code
        return "GET /dashboard/", http.get(f"{base}/dashboard/", headers=h["inspector"], timeout=120).status_code
    if kind == "trace":
        if rng.random() < 0.6:
            body = {"case_no": world.case_no, "sender_id_type": "RESIDENT_ID", "sender_id_no": rng.choice(world.ids)}
            return "POST /api/v1/trace (ID)", http.post(f"{base}/api/v1/trace", json=body, headers=h["investigator"],
                                                        timeout=120).status_code
        return "POST /api/v1/trace (waybill)", http.post(
            f"{base}/api/v1/trace", json={"waybill_no": rng.choice(world.waybills)}, headers=h["inspector"],
            timeout=120).status_code
    if kind == "xray":
        at = dt.datetime.now(CHINA).isoformat(timespec="seconds")
        return "POST /api/v1/xray-events", http.post(f"{base}/api/v1/xray-events", headers=h["admin"], timeout=120, data={
            "machine_code": rng.choice(world.machines), "waybill_no": f"XL{rng.randrange(10**10):010d}",
            "scanned_at": at, "operator_id": "LOAD-1"}, files={"image": ("scan.png", world.scan, "image/png")}).status_code
    outlet, rows = world.next_upload()
    return "POST /api/v1/outlets/<code>/daily-logs", post_log(http, base, h["admin"], outlet, rows).status_code


def run_step(world: World, clients: int, seconds: float, seed: int) -> dict:
    samples: list[tuple[str, float, int]] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    kinds = [k for k, w in MIX for _ in range(w)]

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        http = requests.Session()
        while time.monotonic() < stop:
            kind = rng.choice(kinds)
            started = time.perf_counter()
            try:
                route, status = one_request(world, http, kind, rng)
            except requests.RequestException as exc:
                route, status = f"{kind} (transport error: {type(exc).__name__})", 599
            with lock:
                samples.append((route, (time.perf_counter() - started) * 1000, status))

    busy0, total0 = cpu_times()
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    busy1, total1 = cpu_times()
    by_route: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for route, ms, status in samples:
        by_route[route].append(ms)
        statuses[route][status] += 1
    every = [ms for _, ms, _ in samples]
    return {"clients": clients, "requests": len(samples), "wall_s": round(wall, 1),
            "rps": round(len(samples) / wall, 1), "p50": percentile(every, 50), "p95": percentile(every, 95),
            "p99": percentile(every, 99), "cpu_busy": round((busy1 - busy0) / max(1, total1 - total0), 3),
            "errors_5xx": sum(1 for _, _, s in samples if s >= 500), "load": loadavg(),
            "routes": {r: {"n": len(v), "rps": round(len(v) / wall, 2), "p50": percentile(v, 50),
                           "p95": percentile(v, 95), "p99": percentile(v, 99), "statuses": dict(statuses[r])}
                       for r, v in sorted(by_route.items())}}


def saturation(steps: list[dict]) -> str:
    for before, after in zip(steps, steps[1:]):
        if after["rps"] < before["rps"] * 1.10 and after["p95"] > before["p95"]:
            return (f"throughput stops growing after {before['clients']} clients ({before['rps']} req/s, "
                    f"CPU busy {before['cpu_busy']:.0%}); at {after['clients']} clients p95 rises "
                    f"{before['p95']:.0f} -> {after['p95']:.0f} ms for {after['rps']} req/s")
    return "not reached within these steps"


def serve(env: dict, port: int, workers: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")
    server = subprocess.Popen([*greenshield_cli(), "serve", "--port", str(port), "--workers", str(workers)], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:
            time.sleep(0.3)
    server.kill()
    raise SystemExit(log_path.read_text()[-3000:])


def run(database: str, url: str | None, args, workdir: Path) -> dict:
    instance = workdir / f"instance-{database}"
    instance.mkdir(parents=True)
    (instance / "config.py").write_text('TRACE_RATE_LIMIT = "100000 per minute"\n')
    env = {**os.environ, "GREENSHIELD_INSTANCE": str(instance), "GREENSHIELD_LOG_LEVEL": "WARNING",
           "DATABASE_URL": url or f"sqlite:///{instance / 'greenshield.db'}"}
    cli(env, "init-db")
    cli(env, "seed-demo", "--days", str(args.seed_days))
    port = 8700 + (os.getpid() % 200)
    server = serve(env, port, args.workers, workdir / f"server-{database}.log")
    try:
        world = World(env, f"http://127.0.0.1:{port}")
        run_step(world, 2, 3, seed=0)  # warm-up: imports, caches, the model loaded in each worker
        steps = []
        for clients in args.steps:
            step = run_step(world, clients, args.step_seconds, seed=clients)
            steps.append(step)
            print(f"# {database}: {clients} clients -> {step['rps']} req/s, p95 {step['p95']:.0f} ms, "
                  f"CPU {step['cpu_busy']:.0%}, 5xx {step['errors_5xx']}, load {step['load']}", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"database": database, "workers": args.workers, "steps": steps, "saturation": saturation(steps)}


def report(result: dict) -> None:
    db = result["database"]
    print(f"\n## {db}: greenshield serve --workers {result['workers']}\n")
    print_table(["clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "CPU busy", "5xx", "load"],
                [[s["clients"], s["rps"], f"{s['p50']:.0f}", f"{s['p95']:.0f}", f"{s['p99']:.0f}",
                  f"{s['cpu_busy']:.0%}", s["errors_5xx"], s["load"]] for s in result["steps"]])
    print(f"\nsaturation: {result['saturation']}\n")
    rows = []
    for s in result["steps"]:
        for route, r in s["routes"].items():
            statuses = " ".join(f"{k}:{v}" for k, v in sorted(r["statuses"].items()))
            rows.append([s["clients"], route, r["rps"], f"{r['p50']:.0f}", f"{r['p95']:.0f}", f"{r['p99']:.0f}",
                         statuses])
    print_table(["clients", "route", "req/s", "p50 ms", "p95 ms", "p99 ms", "statuses"], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="also run on a scratch PostgreSQL database next to URL")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--steps", default="1,2,4,8,16", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--step-seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed-days", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print_facts({"steps": args.steps, "step_seconds": args.step_seconds, "workers": args.workers})
    workdir = Path(tempfile.mkdtemp(prefix="gs-load-"))
    results = []
    try:
        if not args.skip_sqlite:
            results.append(run("SQLite", None, args, workdir))
            report(results[-1])
        if args.postgres:
            with scratch_database(args.postgres, "load") as (url, _name):
                results.append(run("PostgreSQL", url, args, workdir))
                report(results[-1])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    sys.exit(main())
