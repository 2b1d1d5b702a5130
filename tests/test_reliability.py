"""Reliability with real processes, on SQLite and (with TEST_DATABASE_URL) PostgreSQL.

- ``greenshield ingest`` killed with SIGKILL at random moments: after every kill the database holds whole
  batches or nothing, and re-running finishes the job exactly once.
- ``greenshield serve`` (gunicorn, four workers) taking many uploads at once: from eight outlets, many to one
  outlet, corrections racing their originals, readers and CLI back-fills alongside.

These tests do not use the rolled-back ``db`` fixture. Each builds its own instance folder and database
(SQLite files in a temporary folder; with TEST_DATABASE_URL, scratch databases on that PostgreSQL server that
are dropped at the end), runs ``greenshield init-db`` and ``greenshield users token`` as subprocesses, and
checks what is in the database with plain SQL.

The kill test draws its kill moments from a seeded RNG; the seed is printed (``pytest -s``) and named in its
failures. GREENSHIELD_RELIABILITY_SEED replays a run; GREENSHIELD_RELIABILITY_KILLS changes the number of kills
(default 20).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from greenshield.db import normalise_url
from inspection.dailylog import validate_row
from inspection.synth import generate_rows, write_csv
from tests.helpers import free_port, request

SEED = int(os.environ.get("GREENSHIELD_RELIABILITY_SEED") or random.SystemRandom().randrange(1, 2**31))
BASE_DAY = dt.date(2025, 6, 2)
INVALID_RATIO = 0.01
THRESHOLD = 0.998  # the default REAL_NAME/INSPECTION/XRAY_THRESHOLD; these instances have no config.py
PASSWORD = "reliability-horse-battery-staple"

KILL_ATTEMPTS = int(os.environ.get("GREENSHIELD_RELIABILITY_KILLS") or 20)
KILL_FILE_ROWS = 5200  # two chunks of the record writer (CHUNK_ROWS = 5000): kills land between them too
CONCURRENT_OUTLETS = 8
FILES_PER_OUTLET = 3
CONCURRENT_FILE_ROWS = 2500
SERVER_WORKERS = 4


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "greenshield"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from greenshield.cli import main; main()"]


GREENSHIELD = _console_script()


# --------------------------------------------------------------------------------------------------- databases

class ScratchDatabases:
    """SQLite files under a folder, or scratch databases on the TEST_DATABASE_URL server (dropped at close)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.server_url = os.environ.get("TEST_DATABASE_URL")
        self.created: list[str] = []

    @property
    def dialect(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def _admin_conninfo(self) -> str:
        return make_url(self.server_url).set(drivername="postgresql").render_as_string(hide_password=False)

    def new(self, label: str) -> str:
        if not self.server_url:
            return f"sqlite:///{self.folder / f'{label}.db'}"
        import psycopg

        name = f"gs_reliability_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(self._admin_conninfo(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        import psycopg

        with psycopg.connect(self._admin_conninfo(), autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.created.clear()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    databases = ScratchDatabases(tmp_path_factory.mktemp("reliability-db"))
    yield databases
    databases.drop_all()


# ---------------------------------------------------------------------------------------------------- instances

SETUP_SNIPPET = """
import json, sys
from sqlalchemy import select
from greenshield import create_app, db
from greenshield.auth.services import create_user, issue_token
from models import Enterprise, Outlet, OutletKind, Region, Role

codes, username, password, tokens = json.loads(sys.argv[1]), sys.argv[2], sys.stdin.readline().strip(), int(sys.argv[3])
app = create_app()
with app.app_context(), db.job_session() as s:
    sf = s.scalar(select(Enterprise).where(Enterprise.code == "SF"))
    for code in codes:
        s.add(Outlet(code=code, name="可靠性测试网点 " + code, enterprise=sf, region=s.get(Region, "150100"),
                     kind=OutletKind.OUTLET, active=True))
    plain = []
    if username:
        user = create_user(s, username=username, password=password, role=Role.ADMIN, display_name="可靠性测试")
        s.flush()
        plain = [issue_token(s, user, days=1)[1] for _ in range(tokens)]
app.extensions["greenshield.db"].engine.dispose()
print(json.dumps(plain))
"""


class Instance:
    """One instance folder and database, driven through the ``greenshield`` command."""

    def __init__(self, root: Path, url: str):
        self.root, self.url = root, url
        root.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "GREENSHIELD_"))}
        env.update(GREENSHIELD_INSTANCE=str(root), DATABASE_URL=url, GREENSHIELD_SECRET_KEY="reliability-secret",
                   PYTHONUNBUFFERED="1")
        self.env = env
        self.engine = create_engine(normalise_url(url), poolclass=NullPool)

    def cli(self, *args: str, input: str | None = None, timeout: float = 300, check: bool = True):
        result = subprocess.run([*GREENSHIELD, *args], env=self.env, cwd=self.root, input=input,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"greenshield {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen([*GREENSHIELD, *args], env=self.env, cwd=self.root, **kwargs)

    def setup(self, outlets: list[str], *, admin: str | None = None,
              extra_tokens: int = 0) -> tuple[str | None, list[str]]:
        """init-db, the outlets and, with ``admin``, that administrator with ``extra_tokens`` tokens (one Python
        snippet), then a token from ``greenshield users token`` (returned first)."""
        self.cli("init-db")
        snippet = subprocess.run([sys.executable, "-c", SETUP_SNIPPET, json.dumps(outlets), admin or "",
                                  str(extra_tokens)], input=PASSWORD + "\n", env=self.env, cwd=self.root,
                                 capture_output=True, text=True, timeout=120, check=False)
        assert snippet.returncode == 0, snippet.stderr
        extra = json.loads(snippet.stdout.strip().splitlines()[-1])
        if not admin:
            return None, extra
        token = self.cli("users", "token", admin, "--days", "1").stdout.strip().splitlines()[-1]
        return token, extra

    def rows(self, sql: str, **params) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params):
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def outlet_id(self, code: str) -> int:
        return self.scalar("SELECT id FROM outlets WHERE code = :c", c=code)

    def settle(self, timeout: float = 30) -> None:
        """Wait until no other session of this database is running a statement. A client killed while its
        COMMIT was in flight leaves the server finishing that COMMIT a moment later (PostgreSQL; SQLite runs
        in the client, so a kill ends its work at once)."""
        if self.engine.dialect.name != "postgresql":
            return
        deadline = time.monotonic() + timeout
        while self.scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND pid <> pg_backend_pid() AND state = 'active'"):
            assert time.monotonic() < deadline, "a killed client's statement is still running after 30 s"
            time.sleep(0.02)

    def close(self) -> None:
        self.engine.dispose()


@pytest.fixture(scope="module")
def make_instance(scratch, tmp_path_factory):
    made: list[Instance] = []

    def make(label: str) -> Instance:
        root = tmp_path_factory.mktemp(f"instance-{label}")
        instance = Instance(root, scratch.new(label) if scratch.server_url else f"sqlite:///{root / 'gs.db'}")
        made.append(instance)
        return instance

    yield make
    for instance in made:
        instance.close()


# -------------------------------------------------------------------------------------------------------- files

@dataclass
class LogFile:
    path: Path
    outlet: str
    rows: int
    valid: int


def make_log(folder: Path, outlet: str, name: str, rows: int, *, seed: int, day: dt.date, prefix: str,
             edit=None) -> LogFile:
    """A synthetic CSV of ``rows`` rows (1 % invalid) over two days; ``edit(rows)`` may change the row list."""
    data = list(generate_rows(rows, outlet_code=outlet, day=day, days=2, seed=seed, invalid_ratio=INVALID_RATIO,
                              waybill_prefix=prefix))
    if edit is not None:
        data = edit(data)
    path = folder / name
    write_csv(data, path)
    invalid = round(rows * INVALID_RATIO)
    return LogFile(path, outlet, len(data), len(data) - invalid)


# ------------------------------------------------------------------------------------------------------ checks

def _i(value) -> int:
    return int(value or 0)


def recount(instance: Instance) -> dict[tuple[int, str], tuple[int, int, int, int, int]]:
    """(outlet_id, day) -> parcels, real-name ok, adjusted ok, inspected, x-rayed, from current records."""
    rows = instance.rows("""
        SELECT r.outlet_id, r.collected_on, COUNT(*),
               SUM(CASE WHEN r.real_name_compliant THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.real_name_compliant AND NOT EXISTS
                        (SELECT 1 FROM finding_records f WHERE f.record_id = r.id) THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.inspected THEN 1 ELSE 0 END),
               SUM(CASE WHEN r.xray_screened THEN 1 ELSE 0 END)
        FROM collection_records r WHERE r.is_current GROUP BY r.outlet_id, r.collected_on""")
    return {(o, str(d)): tuple(_i(v) for v in vals) for o, d, *vals in rows}


def consistency_problems(instance: Instance, outlets: set[int] | None = None) -> list[str]:
    """Every invariant that must hold between committed transactions (for ``outlets``, default all), as a list
    of human-readable problems."""
    def mine(outlet_id: int) -> bool:
        return outlets is None or outlet_id in outlets

    problems = []
    for oid, bid, total, accepted, rejected, skipped, stored in instance.rows("""
            SELECT b.outlet_id, b.id, b.rows_total, b.rows_accepted, b.rows_rejected, b.rows_skipped, COUNT(r.id)
            FROM upload_batches b LEFT JOIN collection_records r ON r.batch_id = b.id
            GROUP BY b.outlet_id, b.id, b.rows_total, b.rows_accepted, b.rows_rejected, b.rows_skipped"""):
        if not mine(oid):
            continue
        if stored != accepted - skipped:
            problems.append(f"batch {bid}: {stored} records stored, rows_accepted {accepted} - rows_skipped {skipped}")
        if accepted and not stored and accepted != skipped:
            problems.append(f"batch {bid} has no records")
        if accepted + rejected != total:
            problems.append(f"batch {bid}: accepted {accepted} + rejected {rejected} != total {total}")
    for oid, bid, rejected, errored in instance.rows("""
            SELECT b.outlet_id, b.id, b.rows_rejected, COUNT(DISTINCT e."row")
            FROM upload_batches b LEFT JOIN batch_errors e ON e.batch_id = b.id
            GROUP BY b.outlet_id, b.id, b.rows_rejected"""):
        if mine(oid) and rejected != errored:  # no strict uploads here: rejected rows are the rows with errors
            problems.append(f"batch {bid}: rows_rejected {rejected} but errors for {errored} rows")
    orphans = instance.scalar("""SELECT COUNT(*) FROM collection_records r
                                 LEFT JOIN upload_batches b ON b.id = r.batch_id WHERE b.id IS NULL""")
    if orphans:
        problems.append(f"{orphans} records without a batch")
    for oid, waybill, versions, top, current in instance.rows("""
            SELECT outlet_id, waybill_no, COUNT(*), MAX(version), SUM(CASE WHEN is_current THEN 1 ELSE 0 END)
            FROM collection_records GROUP BY outlet_id, waybill_no
            HAVING COUNT(*) != MAX(version) OR SUM(CASE WHEN is_current THEN 1 ELSE 0 END) != 1"""):
        if mine(oid) and len(problems) < 50:
            problems.append(f"waybill {waybill} of outlet {oid}: {versions} versions up to {top}, "
                            f"{current} of them current (one expected)")
    problems += outlet_day_problems(instance, outlets)
    for oid, bid, sha in instance.rows("SELECT outlet_id, id, sha256 FROM upload_batches"):
        if mine(oid) and not (instance.root / "archive" / sha[:2] / f"{sha}.gsa").is_file():
            problems.append(f"batch {bid}: archived file {sha[:12]}… is missing")
    return problems


def outlet_day_problems(instance: Instance, outlets: set[int] | None = None) -> list[str]:
    """outlet_days equal a recount from the current records, and an alert is open exactly when a rate is under
    the threshold."""
    problems = []
    counted = {k: v for k, v in recount(instance).items() if outlets is None or k[0] in outlets}
    kept = {(o, str(d)): (tuple(_i(v) for v in vals), rate) for o, d, *vals, rate in instance.rows(
        """SELECT outlet_id, day, parcels, real_name_ok, real_name_adjusted_ok, inspected_ok, xray_ok,
                  real_name_rate FROM outlet_days""") if outlets is None or o in outlets}
    for key in sorted(set(counted) | set(kept)):
        have = kept.get(key, (None, None))[0]
        if have != counted.get(key):
            problems.append(f"outlet_days {key}: stored {have}, recount {counted.get(key)} "
                            "(parcels, real-name, adjusted, inspected, x-ray)")
        elif abs(kept[key][1] - have[1] / have[0]) > 1e-9:
            problems.append(f"outlet_days {key}: real_name_rate {kept[key][1]} != {have[1]}/{have[0]}")
    open_alerts = {(o, str(d), m) for o, d, m in instance.rows(
        "SELECT outlet_id, day, metric FROM alerts WHERE status = 'open'")}
    for (outlet_id, day), (parcels, real_name, _, inspected, xray) in counted.items():
        for metric, ok in (("real_name", real_name), ("inspection", inspected), ("xray", xray)):
            if (ok / parcels < THRESHOLD) != ((outlet_id, day, metric) in open_alerts):
                problems.append(f"alert {metric} of {(outlet_id, day)}: rate {ok}/{parcels}, "
                                f"open alert: {(outlet_id, day, metric) in open_alerts}")
    return problems


def batch_of(instance: Instance, outlet: str, path: Path) -> tuple | None:
    import hashlib

    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = instance.rows("""SELECT b.id, b.rows_total, b.rows_accepted, b.rows_rejected FROM upload_batches b
                            JOIN outlets o ON o.id = b.outlet_id WHERE o.code = :c AND b.sha256 = :s""", c=outlet, s=sha)
    return rows[0] if rows else None


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


# -------------------------------------------------------------------------------------------- SIGKILL on ingest

def wait_for_spool(running, spool: Path, before: set[Path], timeout: float = 120) -> float | None:
    """Wait until a process has started spooling its upload (a new file in instance/tmp): the moment its ingest
    work begins. ``running()`` says whether it still runs. Returns that moment (monotonic), or None when the
    process ended first."""
    deadline = time.monotonic() + timeout
    while running() and time.monotonic() < deadline:
        if set(spool.glob("upload-*")) - before:
            return time.monotonic()
        time.sleep(0.005)
    return None


FORK_SERVER = """
import json, os, sys, traceback
import greenshield.cli, greenshield.ingest.cli, greenshield.ingest.pipeline
greenshield.create_app()  # load what building the app imports; it opens no database connection

for line in sys.stdin:
    command = json.loads(line)
    if command[0] == "run":
        _, outlet, path, output, teardown = command
        pid = os.fork()
        if pid == 0:  # the child: exactly `greenshield ingest OUTLET PATH`, its output to a file
            fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.close(fd)
            if teardown:  # exit as the command does, interpreter shutdown included
                greenshield.cli.main(["ingest", outlet, path], prog_name="greenshield")
            try:  # skip the interpreter's shutdown (seconds on a busy machine) when nobody kills this run
                greenshield.cli.main(["ingest", outlet, path], prog_name="greenshield")
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
            except BaseException:
                traceback.print_exc()
                code = 1
            else:
                code = 0
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
        print(json.dumps(pid), flush=True)
    elif command[0] == "reap":
        _, status = os.waitpid(command[1], 0)
        print(json.dumps(os.waitstatus_to_exitcode(status)), flush=True)
"""


class IngestProcesses:
    """Starts ``greenshield ingest OUTLET FILE`` processes quickly: each is forked from a server process that
    has already imported the application (Python and its libraries take seconds to start on a busy machine,
    which would otherwise be most of the kill test). Each run is a process of its own, killed by its pid."""

    def __init__(self, instance: Instance, folder: Path):
        self.instance, self.folder, self.runs = instance, folder, 0
        self.spool = instance.root / "tmp"
        self.server = subprocess.Popen([sys.executable, "-c", FORK_SERVER], env=instance.env, cwd=instance.root,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def _ask(self, *command) -> object:
        self.server.stdin.write(json.dumps(command) + "\n")
        self.server.stdin.flush()
        line = self.server.stdout.readline()
        assert line, f"the fork server died (exit {self.server.poll()})"
        return json.loads(line)

    def start(self, outlet: str, path: Path, *, wait: bool = True,
              teardown: bool = False) -> tuple[int, Path, float | None]:
        """Fork an ingest; returns its pid, its output file and (``wait``) when it began spooling (None: it
        ended first). With ``teardown`` it ends like the command (interpreter shutdown), else right after."""
        self.runs += 1
        output = self.folder / f"ingest-{self.runs:03d}.out"
        before = set(self.spool.glob("upload-*"))
        pid = self._ask("run", outlet, str(path), str(output), teardown)
        return pid, output, wait_for_spool(lambda: running(pid), self.spool, before) if wait else None

    def reap(self, pid: int) -> int:
        """Wait for ``pid`` to end; its exit code (negative: the signal that ended it)."""
        return self._ask("reap", pid)

    def run(self, outlet: str, path: Path) -> tuple[str, float | None]:
        """One ingest to completion: its output and how long it worked from spooling to exit."""
        pid, output, began = self.start(outlet, path)
        code = self.reap(pid)
        ended = time.monotonic()
        text_ = output.read_text()
        assert code == 0, f"greenshield ingest {path.name} exited {code}:\n{text_}"
        return text_, (ended - began if began else None)

    def close(self) -> None:
        with self.server:
            self.server.stdin.close()
            self.server.wait(timeout=60)


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ingest_survives_sigkill_at_random_moments(make_instance, tmp_path):
    """20 times: run ``greenshield ingest`` on a new file, SIGKILL it at a random moment of its work (from when
    it starts spooling the upload to about when it would end), check the database, ingest the file again to
    completion in a new process. Then every row is there once, counts equal a recount, and re-uploads of all
    the files are no-ops."""
    if not hasattr(os, "fork") or not Path("/proc/self/stat").exists():
        pytest.skip("the kill test forks its ingest processes and watches them in /proc (Linux)")
    print(f"\nreliability seed {SEED} (GREENSHIELD_RELIABILITY_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    spent = defaultdict(float)  # where the time goes
    outlet = "SF-KILL-001"
    instance = make_instance("kill")
    t_setup = time.monotonic()
    instance.setup([outlet])
    spent["setup"] = time.monotonic() - t_setup
    files = [make_log(tmp_path, outlet, f"kill-{i:02d}.csv", KILL_FILE_ROWS, seed=SEED % 100_000 * 100 + i,
                      day=BASE_DAY + dt.timedelta(days=i % 4), prefix=f"K{i:02d}X") for i in range(KILL_ATTEMPTS + 1)]
    where = f"(seed {SEED})"
    outcomes = defaultdict(int)
    log = []
    spent["files"] = time.monotonic() - t_setup - spent["setup"]
    ingests = IngestProcesses(instance, tmp_path)
    try:
        t_first = time.monotonic()
        first, expected = ingests.run(outlet, files[0].path)  # how long an ingest works here and now
        spent["first run"] = time.monotonic() - t_first
        assert expected, "the first ingest ended before it was seen spooling"
        batch_ids = {files[0].path: last_json(first)["batch_id"]}
        for attempt, f in enumerate(files[1:], start=1):
            delay = rng.uniform(0.0, 1.25) * expected
            t0 = time.monotonic()
            pid, _, began = ingests.start(outlet, f.path, teardown=True)
            deadline = (began or 0) + delay
            while began and running(pid) and time.monotonic() < deadline:
                time.sleep(0.002)
            killed = running(pid)
            if killed:
                os.kill(pid, signal.SIGKILL)
            code = ingests.reap(pid)
            instance.settle()
            if not killed:
                assert code == 0, f"attempt {attempt}: ingest exited {code} {where}"
                if began:
                    expected = (expected + time.monotonic() - began) / 2  # follow the machine's load
            t1 = time.monotonic()
            committed = batch_of(instance, outlet, f.path)
            kind = ("finished before the kill" if not killed else
                    "killed after commit" if committed else "killed before commit")
            outcomes[kind] += 1
            log.append(f"attempt {attempt}: {f.path.name} killed {delay:.2f}s into ~{expected:.2f}s of work -> {kind}")
            problems = consistency_problems(instance)
            assert not problems, (f"after attempt {attempt} ({kind}, delay {delay:.2f}s) {where}:\n"
                                  + "\n".join(problems))
            if committed:
                assert committed[2] == f.valid, f"attempt {attempt}: batch {committed} stored, expected {f.valid} rows"

            t2 = time.monotonic()
            rerun, worked = ingests.run(outlet, f.path)
            spent["killed runs"] += t1 - t0
            spent["checks"] += t2 - t1
            spent["re-runs"] += time.monotonic() - t2
            body = last_json(rerun)
            if committed:
                assert "ingested before" in rerun and body["batch_id"] == committed[0], (attempt, rerun)
            else:
                assert "ingested before" not in rerun, (attempt, rerun)
                if worked:
                    expected = (expected + worked) / 2
            assert (body["rows_total"], body["rows_accepted"]) == (f.rows, f.valid), (attempt, body)
            batch_ids[f.path] = body["batch_id"]  # the state after this is checked after the next kill

        print("\n".join(log))
        print(dict(outcomes))
        problems = consistency_problems(instance)
        assert not problems, f"after the last re-run {where}:\n" + "\n".join(problems)

        # The end state: every valid row exactly once, as version 1 and current; counts equal a recount.
        expected_rows = sum(f.valid for f in files)
        total, distinct, not_v1, not_current = instance.rows("""
            SELECT COUNT(*), COUNT(DISTINCT waybill_no), SUM(CASE WHEN version != 1 THEN 1 ELSE 0 END),
                   SUM(CASE WHEN is_current THEN 0 ELSE 1 END) FROM collection_records""")[0]
        assert (total, distinct, _i(not_v1), _i(not_current)) == (expected_rows, expected_rows, 0, 0), where
        assert instance.scalar("SELECT COUNT(*) FROM upload_batches") == len(files), where
        assert not outlet_day_problems(instance), where

        # Re-uploading any of the files is a no-op that names its first batch (all at once: they only read).
        t_again = time.monotonic()
        started = [(f, *ingests.start(outlet, f.path, wait=False)[:2]) for f in files]
        for f, pid, output in started:
            code, text_ = ingests.reap(pid), output.read_text()
            assert code == 0, (f.path.name, code, text_)
            assert f"ingested before as batch {batch_ids[f.path]}" in text_, (f.path.name, text_)
            assert last_json(text_)["batch_id"] == batch_ids[f.path], (f.path.name, text_)
        spent["re-uploads"] = time.monotonic() - t_again
    finally:
        ingests.close()
    print({k: round(v, 1) for k, v in spent.items()})
    assert instance.scalar("SELECT COUNT(*) FROM collection_records") == expected_rows, where
    assert instance.scalar("SELECT COUNT(*) FROM upload_batches") == len(files), where


# ----------------------------------------------------------------------------------------- concurrent uploads


def upload(port: int, token: str, outlet: str, path: Path) -> tuple[int, str]:
    boundary = f"----greenshield{uuid.uuid4().hex}"
    body = b"".join([
        f"--{boundary}\r\n".encode(),
        f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'.encode(),
        b"Content-Type: text/csv\r\n\r\n", path.read_bytes(), f"\r\n--{boundary}--\r\n".encode(),
    ])
    return request(port, "POST", f"/api/v1/outlets/{outlet}/daily-logs", token=token, body=body,
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


class Server:
    def __init__(self, instance: Instance, log_path: Path, workers: int):
        self.instance, self.log_path = instance, log_path
        self.port = free_port()
        self.log = open(log_path, "wb")  # noqa: SIM115 - the server writes to it until stop() closes it
        self.proc = instance.popen("serve", "--workers", str(workers), "--port", str(self.port),
                                   stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"greenshield serve exited {self.proc.returncode}:\n{self.output()}")
            try:
                status, body = request(self.port, "GET", "/healthz", timeout=5)
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"greenshield serve did not answer /healthz in {timeout}s:\n{self.output()}")

    def output(self, since: int = 0) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as f:
            f.seek(since)
            return f.read().decode(errors="replace")

    def mark(self) -> int:
        """Where the log ends now (``output(since=...)`` then shows only what came later)."""
        self.log.flush()
        return self.log_path.stat().st_size

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)  # gunicorn: quick shutdown (the tests are done)
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the group of the server this test started
                    self.proc.wait()
        finally:
            self.log.close()


@dataclass
class ServedInstance:
    instance: Instance
    server: Server
    token: str
    fresh_tokens: list[str]


@pytest.fixture(scope="module")
def served(make_instance, tmp_path_factory):
    """One instance with outlets SF-CONC-01..08, SF-SAME-01/02, SF-READ-01/02, SF-SPOOL-01 and SF-MIX-01..04, served
    by gunicorn with several workers; an admin's token (used once) and four fresh tokens of that admin."""
    instance = make_instance("serve")
    outlets = [f"SF-CONC-{i:02d}" for i in range(1, CONCURRENT_OUTLETS + 1)] + [
        "SF-SAME-01", "SF-SAME-02", "SF-READ-01", "SF-READ-02", "SF-SPOOL-01"] + [f"SF-MIX-0{i}" for i in range(1, 5)]
    token, fresh = instance.setup(outlets, admin="reladmin", extra_tokens=4)
    server = Server(instance, tmp_path_factory.mktemp("server") / "serve.log", SERVER_WORKERS)
    try:
        server.wait_ready()
        status, body = request(server.port, "GET", "/api/v1/me", token=token)  # the token's first use
        assert status == 200, body
        yield ServedInstance(instance, server, token, fresh)
    finally:
        server.stop()


def run_uploads(served: ServedInstance, jobs: dict[str, list[LogFile]], *,
                readers: list[tuple[str, float]] = ()) -> list[dict]:
    """One thread per key of ``jobs`` uploading its files in order, all starting together, and one thread per
    (token, delay) of ``readers`` listing batches every 0.2 s from ``delay`` seconds on until the uploads are
    done. Returns one record per response."""
    port = served.server.port
    results: list[dict] = []
    barrier = threading.Barrier(len(jobs) + len(readers))
    done = threading.Event()

    def uploader(files: list[LogFile]) -> None:
        barrier.wait()
        for f in files:
            t0 = time.monotonic()
            try:
                status, body = upload(port, served.token, f.outlet, f.path)
            except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding, not a test crash
                status, body = None, f"{type(exc).__name__}: {exc}"
            results.append({"kind": "upload", "file": f, "status": status, "body": body,
                            "seconds": time.monotonic() - t0})

    def reader(token: str, delay: float) -> None:
        barrier.wait()
        done.wait(delay)
        while True:  # at least one read, however fast the uploads were
            t0 = time.monotonic()
            try:
                status, body = request(port, "GET", "/api/v1/batches?page_size=5", token=token, timeout=120)
            except Exception as exc:  # noqa: BLE001
                status, body = None, f"{type(exc).__name__}: {exc}"
            results.append({"kind": "read", "status": status, "body": body, "token": token[:10],
                            "seconds": time.monotonic() - t0})
            if done.wait(0.2):
                break

    threads = [threading.Thread(target=uploader, args=(files,)) for files in jobs.values()]
    polling = [threading.Thread(target=reader, args=r) for r in readers]
    for t in threads + polling:
        t.start()
    for t in threads:
        t.join(timeout=600)
    done.set()
    for t in polling:
        t.join(timeout=120)
    return results


def response_problems(results: list[dict]) -> list[str]:
    problems = []
    for r in results:
        what = r["file"].path.name if r["kind"] == "upload" else "GET /api/v1/batches"
        wanted = 201 if r["kind"] == "upload" else 200
        if r["status"] != wanted or "database is locked" in r["body"].lower():
            problems.append(f"{what}: {r['status']} after {r['seconds']:.2f}s {r['body'][:300].strip()}")
    return problems


def log_problems(server: Server, since: int = 0) -> list[str]:
    lines = server.output(since).splitlines()
    bad = ("Traceback", "database is locked", "WORKER TIMEOUT", "Worker exited", "IntegrityError", "deadlock",
           "could not serialize", "OperationalError", '" 500 ', '" 502 ', '" 503 ')
    server_error = re.compile(r'"status": 5\d\d\b')  # the app's JSON access-log line of a 5xx answer
    return [line for line in lines if any(b in line for b in bad) or server_error.search(line)][:40]


def check_api_rates(served: ServedInstance, outlet: str) -> list[str]:
    """The compliance series of the API equals a recount from the stored records."""
    instance = served.instance
    oid = instance.outlet_id(outlet)
    counted = {day: c for (o, day), c in recount(instance).items() if o == oid}
    status, body = request(served.server.port, "GET",
                           f"/api/v1/compliance/outlets/{outlet}?from={BASE_DAY - dt.timedelta(days=7)}"
                           f"&to={BASE_DAY + dt.timedelta(days=14)}", token=served.token)
    assert status == 200, body
    series = {row["date"]: row for row in json.loads(body)}
    problems = []
    if set(series) != set(counted):
        problems.append(f"{outlet}: API days {sorted(series)} != recounted days {sorted(counted)}")
    for day, (parcels, real_name, adjusted, inspected, xray) in counted.items():
        row = series.get(day)
        if row is None:
            continue
        want = {"parcels": parcels, "real_name_rate": real_name / parcels,
                "adjusted_real_name_rate": adjusted / parcels, "inspection_rate": inspected / parcels,
                "xray_rate": xray / parcels}
        for key, value in want.items():
            if abs(row[key] - value) > 1e-9:
                problems.append(f"{outlet} {day} {key}: API {row[key]}, recount {value}")
    return problems


def test_concurrent_uploads_of_eight_outlets(served, tmp_path):
    outlets = [f"SF-CONC-{i:02d}" for i in range(1, CONCURRENT_OUTLETS + 1)]
    jobs = {o: [make_log(tmp_path, o, f"{o}-{k}.csv", CONCURRENT_FILE_ROWS, seed=1000 * n + k,
                         day=BASE_DAY + dt.timedelta(days=k), prefix=f"C{n:02d}F{k}")
                for k in range(FILES_PER_OUTLET)] for n, o in enumerate(outlets, start=1)}
    started, since = time.monotonic(), served.server.mark()
    results = run_uploads(served, jobs, readers=[(served.token, 0.5)])
    seconds = time.monotonic() - started
    uploads = [r for r in results if r["kind"] == "upload"]
    print(f"\n{len(uploads)} uploads in {seconds:.1f}s; slowest {max(r['seconds'] for r in uploads):.1f}s; "
          f"{len(results) - len(uploads)} reads")

    problems = response_problems(results)
    assert not problems, "responses:\n" + "\n".join(problems)
    assert len(uploads) == CONCURRENT_OUTLETS * FILES_PER_OUTLET
    for r in uploads:
        body = json.loads(r["body"])
        assert (body["rows_total"], body["rows_accepted"]) == (r["file"].rows, r["file"].valid), body

    instance = served.instance
    for outlet, files in jobs.items():
        oid = instance.outlet_id(outlet)
        accepted, batches = instance.rows("SELECT SUM(rows_accepted), COUNT(*) FROM upload_batches "
                                          "WHERE outlet_id = :o", o=oid)[0]
        stored = instance.scalar("SELECT COUNT(*) FROM collection_records WHERE outlet_id = :o AND is_current",
                                 o=oid)
        want = sum(f.valid for f in files)
        assert (batches, _i(accepted), stored) == (len(files), want, want), outlet
    problems = consistency_problems(instance, {instance.outlet_id(o) for o in outlets})
    for outlet in outlets:
        problems += check_api_rates(served, outlet)
    assert not problems, "\n".join(problems)
    assert not log_problems(served.server, since), "server log:\n" + "\n".join(log_problems(served.server, since))


def test_concurrent_uploads_to_one_outlet_on_the_same_days(served, tmp_path):
    """Forty small files of one outlet at once (an outlet system sending every hour's log, clerks, a retrying
    client), all collected on the same two days: every response 201, every row stored, and the day counts
    and alerts equal a recount (each upload recounts the same outlet-days, so small files make the uploads'
    recounts overlap often)."""
    outlet = "SF-SAME-01"
    files = [make_log(tmp_path, outlet, f"same-{k:02d}.csv", 100, seed=5000 + k, day=BASE_DAY,
                      prefix=f"S01F{k:02d}") for k in range(40)]
    since = served.server.mark()
    results = run_uploads(served, {f.path.name: [f] for f in files})
    problems = response_problems(results)

    instance = served.instance
    oid = instance.outlet_id(outlet)
    stored, batches = instance.rows("""SELECT (SELECT COUNT(*) FROM collection_records WHERE outlet_id = :o),
                                              (SELECT COUNT(*) FROM upload_batches WHERE outlet_id = :o)""", o=oid)[0]
    landed = [r["file"] for r in results if r["status"] == 201]
    if (stored, batches) != (sum(f.valid for f in landed), len(landed)):
        problems.append(f"{stored} records in {batches} batches; the {len(landed)} files answered 201 hold "
                        f"{sum(f.valid for f in landed)} valid rows")
    problems += consistency_problems(instance, {oid}) + check_api_rates(served, outlet)
    assert not problems, "\n".join(problems) + "\nserver log:\n" + "\n".join(log_problems(served.server, since))
    assert not log_problems(served.server, since), "server log:\n" + "\n".join(log_problems(served.server, since))


def test_concurrent_corrections_to_one_outlet(served, tmp_path):
    """Two files of one outlet at once, the second repeating 250 waybills of the first (150 with a changed
    quantity, 100 identical): whichever lands first, both answer 201, the 100 are skipped, the 150 become
    version 2, and every waybill has exactly one current version."""
    outlet = "SF-SAME-02"
    base = make_log(tmp_path, outlet, "base.csv", CONCURRENT_FILE_ROWS, seed=6000, day=BASE_DAY, prefix="S02B")

    def corrections(rows: list[dict]) -> list[dict]:
        first = list(generate_rows(CONCURRENT_FILE_ROWS, outlet_code=outlet, day=BASE_DAY, days=2, seed=6000,
                                   invalid_ratio=INVALID_RATIO, waybill_prefix="S02B"))
        valid = [r for n, r in enumerate(first, start=2)
                 if not isinstance(validate_row(n, r, outlet_code=outlet), list)][:250]
        changed = [{**r, "quantity": str(int(r["quantity"]) + 1)} for r in valid[:150]]
        return rows + changed + valid[150:]

    fix = make_log(tmp_path, outlet, "fix.csv", CONCURRENT_FILE_ROWS, seed=6001, day=BASE_DAY, prefix="S02X",
                   edit=corrections)
    since = served.server.mark()
    results = run_uploads(served, {"base": [base], "fix": [fix]})
    problems = response_problems(results)

    instance = served.instance
    oid = instance.outlet_id(outlet)
    if not problems:
        distinct_valid = base.valid + fix.valid - 250
        current, total, corrected = instance.rows("""
            SELECT SUM(CASE WHEN is_current THEN 1 ELSE 0 END), COUNT(*), SUM(CASE WHEN version = 2 THEN 1 ELSE 0 END)
            FROM collection_records WHERE outlet_id = :o""", o=oid)[0]
        skipped, corrections_ = instance.rows(
            "SELECT SUM(rows_skipped), SUM(rows_corrected) FROM upload_batches WHERE outlet_id = :o", o=oid)[0]
        if (_i(current), total, _i(corrected), _i(skipped), _i(corrections_)) != (
                distinct_valid, distinct_valid + 150, 150, 100, 150):
            problems.append(f"current {current}, records {total}, version 2: {corrected}, skipped {skipped}, "
                            f"corrected {corrections_}; expected {distinct_valid}, {distinct_valid + 150}, 150, 100, 150")
    problems += consistency_problems(instance, {oid}) + check_api_rates(served, outlet)
    assert not problems, "\n".join(problems) + "\nserver log:\n" + "\n".join(log_problems(served.server, since))


def test_reads_with_new_tokens_while_uploads_hold_the_write_lock(served, tmp_path):
    """Clients that start polling (or whose token was last used more than five minutes ago) while uploads
    run: their GETs must answer 200, not fail because the token's last-use stamp cannot be written."""
    jobs = {outlet: [make_log(tmp_path, outlet, f"{outlet}-{j}.csv", 5000, seed=7000 + 10 * k + j, day=BASE_DAY,
                              prefix=f"R{k}F{j}") for j in range(2)] for k, outlet in enumerate(("SF-READ-01", "SF-READ-02"))}
    readers = [(token, 0.2 + 0.3 * n) for n, token in enumerate(served.fresh_tokens)]
    since = served.server.mark()
    results = run_uploads(served, jobs, readers=readers)
    reads = [r for r in results if r["kind"] == "read"]
    assert reads
    problems = response_problems(results)
    assert not problems, (f"{len(problems)} of {len(results)} responses failed:\n" + "\n".join(problems)
                          + "\nserver log:\n" + "\n".join(log_problems(served.server, since)))


def test_cli_ingest_while_the_server_takes_uploads(served, tmp_path):
    """An operator back-fills with ``greenshield ingest`` (PRODUCT.md: "for operators and bulk back-fills")
    while outlets upload through the running server: the two CLI runs and the uploads all succeed. Every
    upload and every CLI run is for an outlet of its own, so nothing here depends on one outlet's uploads
    racing each other."""
    web = {outlet: [make_log(tmp_path, outlet, f"{outlet}-{k}.csv", 2500, seed=8000 + 10 * t + k, day=BASE_DAY,
                             prefix=f"M{t}W{k}") for k in range(2)] for t, outlet in enumerate(("SF-MIX-01", "SF-MIX-03"))}
    cli = [make_log(tmp_path, outlet, f"{outlet}.csv", 2500, seed=8100 + k, day=BASE_DAY, prefix=f"M{k}C")
           for k, outlet in enumerate(("SF-MIX-02", "SF-MIX-04"))]
    since = served.server.mark()
    results: list[dict] = []
    uploads = threading.Thread(target=lambda: results.extend(run_uploads(served, web)))
    uploads.start()
    runs = []
    try:
        procs = [(f, served.instance.popen("ingest", f.outlet, str(f.path), stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)) for f in cli]
        for f, proc in procs:
            with proc:
                output, _ = proc.communicate(timeout=300)
            runs.append((f, proc.returncode, output))
    finally:
        uploads.join(timeout=600)
    problems = response_problems(results)
    for f, returncode, output in runs:
        if returncode != 0:
            lines = output.strip().splitlines()
            problems.append(f"greenshield ingest {f.path.name}: exit {returncode}: "
                            + " | ".join([line for line in lines if "Error" in line][-2:] + lines[-1:]))
    instance = served.instance
    outlets = {instance.outlet_id(o) for o in ("SF-MIX-01", "SF-MIX-02", "SF-MIX-03", "SF-MIX-04")}
    problems += consistency_problems(instance, outlets)
    assert not problems, "\n".join(problems) + "\nserver log:\n" + "\n".join(log_problems(served.server, since))


def test_killed_ingest_leaves_no_clear_text_spool_file(served, tmp_path):
    """An upload is spooled in clear text to instance/tmp while it is ingested. When the process dies there
    (OOM killer, gunicorn's worker timeout, a power cut), the next runs must not leave that copy of
    personal data lying around for ever: the archive is the only copy at rest, and it is encrypted."""
    outlet = "SF-SPOOL-01"
    instance = served.instance
    victim = make_log(tmp_path, outlet, "victim.csv", KILL_FILE_ROWS, seed=7, day=BASE_DAY, prefix="SPV")
    later = make_log(tmp_path, outlet, "later.csv", 500, seed=8, day=BASE_DAY, prefix="SPL")
    later2 = make_log(tmp_path, outlet, "later2.csv", 500, seed=9, day=BASE_DAY, prefix="SPM")
    spool = instance.root / "tmp"
    before = set(spool.glob("upload-*"))
    proc = instance.popen("ingest", outlet, str(victim.path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_spool(lambda: proc.poll() is None, spool, before, timeout=60)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline and not any(
                p.stat().st_size >= 4096 for p in set(spool.glob("upload-*")) - before):
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    left = sorted(set(spool.glob("upload-*")) - before)
    assert left, "the ingest finished before it could be killed while spooling"
    assert b"SPV" in left[0].read_bytes()[:4096] and batch_of(instance, outlet, victim.path) is None
    # Life goes on: the next ingest runs to completion, and so does an upload to the server.
    instance.cli("ingest", outlet, str(later.path))
    status, response = upload(served.server.port, served.token, outlet, later2.path)
    assert status == 201, response
    still = [p.name for p in left if p.exists()]
    assert not still, (f"{len(still)} clear-text spool file(s) of a killed ingest are still in {spool} after the "
                       "next ingest and upload; they hold the uploaded IDs and phone numbers unencrypted")
