"""Backup and restore of the database, while nothing else is lost."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from models import User
from tests.conftest import run_cli


def usernames(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(User.username)))


def test_backup_then_restore_brings_back_the_state(scratch_database, tmp_path):
    env, engine = scratch_database
    run_cli(env, "init-db")
    run_cli(env, "users", "create", "before", "--role", "auditor", "--password-stdin", stdin="a-long-password\n")
    target = tmp_path / "greenshield.backup"
    made = run_cli(env, "backup", str(target))
    assert target.stat().st_size > 0 and "instance/keys" in made.stdout
    run_cli(env, "users", "create", "after", "--role", "auditor", "--password-stdin", stdin="a-long-password\n")
    assert usernames(engine) == {"before", "after"}
    engine.dispose()
    run_cli(env, "restore", str(target), "--yes")
    assert usernames(engine) == {"before"}
    token = run_cli(env, "users", "token", "before").stdout.strip().splitlines()[-1]
    assert token.startswith("gs_")


def test_restore_refuses_a_file_that_is_no_backup(scratch_database, tmp_path):
    env, _ = scratch_database
    run_cli(env, "init-db")
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"not a database at all" * 100)
    done = subprocess.run([str(Path(sys.executable).parent / "greenshield"), "restore", str(junk), "--yes"], env=env,
                          capture_output=True, text=True)
    assert done.returncode != 0 and "backup" in (done.stdout + done.stderr).lower()
