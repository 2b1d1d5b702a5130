"""Helpers shared by the benchmarks: timed child processes, scratch PostgreSQL databases, machine facts.

Not part of the application; nothing here is imported by ``greenshield``.
"""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

GIB = 2**30


@dataclass
class Timing:
    """Wall clock, CPU time and peak resident memory of one measured step."""

    label: str
    wall: float
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    max_rss: int = 0  # bytes
    server_cpu: float | None = None  # PostgreSQL backend CPU seconds (sampled), where known
    rows: int = 0
    notes: dict = field(default_factory=dict)
    tree_rss: int = 0  # bytes: the largest sum of RSS over the child and all its descendants (sampled)

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall if self.wall else 0.0

    def as_dict(self) -> dict:
        return {"label": self.label, "wall_s": round(self.wall, 3), "cpu_s": round(self.cpu, 3),
                "server_cpu_s": None if self.server_cpu is None else round(self.server_cpu, 3),
                "max_rss_mib": round(self.max_rss / 2**20, 1), "tree_rss_mib": round(self.tree_rss / 2**20, 1),
                "rows": self.rows,
                "rows_per_s": round(self.rows_per_s, 1), **self.notes}


class TreeRssSampler:
    """The peak of the summed RSS of a process and all its descendants, sampled from ``/proc`` every 0.2 s.

    GNU time's peak is that of the largest single process; an ingest that reads in a second process has two.
    """

    def __init__(self, pid: int, every: float = 0.2):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, self._sample())

    def _sample(self) -> int:
        children: dict[int, list[int]] = {}
        rss: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))  # fields[1]: the parent's pid
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # fields[21]: rss in pages
        total, todo = 0, [self.pid]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, ()))
        return total


def run_timed(label: str, argv: list[str], *, env: dict | None = None, stdin: str | None = None,
              cwd: str | None = None, check: bool = True) -> tuple[Timing, str, str]:
    """Run ``argv`` as a child, timing wall clock, CPU and peak RSS of that child alone.

    GNU time (``/usr/bin/time``, Debian package ``time``) does the measuring: the rusage that ``wait4`` gives a
    Python parent counts the parent's own resident pages in the child's peak RSS (fork/vfork, then exec).
    """
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        raise SystemExit("GNU time is not installed: apt-get install -y time")
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as report:
        report_path = report.name
    try:
        start = time.perf_counter()
        popen = subprocess.Popen([gnu_time, "-o", report_path, "-f", "%e %U %S %M", *argv], env=env, cwd=cwd,
                                 stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with TreeRssSampler(popen.pid) as tree:
            stdout, stderr = popen.communicate(stdin)
        proc = subprocess.CompletedProcess(popen.args, popen.returncode, stdout, stderr)
        wall = time.perf_counter() - start
        last = Path(report_path).read_text().strip().splitlines()[-1]
    finally:
        os.unlink(report_path)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{label}: {' '.join(argv)} exited {proc.returncode}\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-4000:]}")
    _, user, system, max_kib = last.split()
    timing = Timing(label, wall, float(user), float(system), int(max_kib) * 1024, tree_rss=tree.peak)
    return timing, proc.stdout, proc.stderr


def greenshield_cli() -> list[str]:
    """``greenshield`` of this checkout, run by the running interpreter (not the console script, which may be
    installed from another working tree)."""
    return [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); "
            "from greenshield.cli import main; sys.exit(main())"]


def need_tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SystemExit(f"{name} is not installed: apt-get install -y {package}")
    return path


def machine_facts() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        mem = 0
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(mem / GIB, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "loadavg": os.getloadavg()}


def print_facts(extra: dict | None = None) -> dict:
    facts = machine_facts()
    if extra:
        facts.update(extra)
    print("# machine: {cpu}, {cores} cores, {memory_gib} GiB; Python {python}; {platform}".format(**facts))
    print("# load average at start: {:.2f} {:.2f} {:.2f}".format(*facts["loadavg"]))
    for key, value in (extra or {}).items():
        print(f"# {key}: {value}")
    return facts


def write_json(path: Path, facts: dict, args, **figures) -> None:
    """The run's figures as JSON: machine facts, the command's arguments, ``figures``, the load at the end."""
    import json

    path.write_text(json.dumps({"facts": facts, "args": {k: str(v) for k, v in vars(args).items()}, **figures,
                                "loadavg_end": os.getloadavg()}, ensure_ascii=False, indent=1, default=str))


def loadavg() -> str:
    return "{:.2f}".format(os.getloadavg()[0])


# --- PostgreSQL ------------------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """The URL as psql and psycopg take it (no SQLAlchemy driver suffix)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


def with_database(url: str, name: str) -> str:
    parts = urlsplit(libpq_url(url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def is_local(url: str) -> bool:
    host = urlsplit(libpq_url(url)).hostname
    return host in (None, "", "localhost", "127.0.0.1", "::1")


def _admin_execute(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql)


@contextmanager
def scratch_database(url: str, tag: str, keep: bool = False):
    """A new, empty PostgreSQL database next to the one ``url`` names; dropped afterwards."""
    name = f"gs_bench_{tag}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    _admin_execute(url, f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name), name
    finally:
        if keep:
            print(f"# kept scratch database {name}")
        else:
            _admin_execute(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class BackendCpuSampler:
    """Sums the CPU time of the PostgreSQL backends serving database ``dbname`` while it runs.

    Polls ``pg_stat_activity`` and reads ``/proc/<pid>/stat`` (same host only), keeping the last value seen for
    each backend: the work a backend does between its last sample and its exit (at most ``interval``) is missed.
    """

    def __init__(self, admin_url: str, dbname: str, interval: float = 0.2):
        self.admin_url, self.dbname, self.interval = libpq_url(admin_url), dbname, interval
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def _cpu_of(self, pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / self._tick  # utime, stime

    def _run(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            me = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            while not self._stop.is_set():
                pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                   (self.dbname,)) if r[0] != me]
                for pid in pids:
                    cpu = self._cpu_of(pid)
                    if cpu is not None:
                        self.seen[pid] = max(cpu, self.seen.get(pid, 0.0))
                self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def total(self) -> float:
        return sum(self.seen.values())


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def print_table(headers: list[str], rows: list[list[object]]) -> None:
    """A Markdown table, so that output can be pasted into docs/performance.md as it is."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |")
