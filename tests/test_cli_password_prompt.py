"""`licenseserver admin create NAME --password-stdin` typed at a terminal, as README tells a new
operator to: it asks for the password twice and shows neither (a real pseudo-terminal, a real
process, a SQLite file); piped in, it still reads one line without asking."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.test_cli import clean_env, cli_command

PASSWORD = "Geheim-Passwort-2026"


def _read_until(master: int, wanted: bytes, seen: bytearray, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r} in {bytes(seen)!r}"
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed
                chunk = b""
            assert chunk, f"no {wanted!r} before the end: {bytes(seen)!r}"
            seen.extend(chunk)


def _create_at_a_terminal(tmp_path: Path, first: str, second: str) -> tuple[int, bytes]:
    """Run the command on a pseudo-terminal, answer its two questions; its exit code and screen."""
    master, slave = pty.openpty()
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'panel.db'}")
    process = subprocess.Popen(
        [*cli_command(), "admin", "create", "chef", "--password-stdin"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=tmp_path,
        env=env,
        start_new_session=True,  # no controlling terminal: getpass silences the terminal on stdin
    )
    os.close(slave)
    screen = bytearray()
    try:
        _read_until(master, b"Password: ", screen)
        os.write(master, first.encode() + b"\n")
        _read_until(master, b"Repeat password: ", screen)
        os.write(master, second.encode() + b"\n")
        code = process.wait(timeout=120)
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            screen.extend(chunk)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        os.close(master)
    return code, bytes(screen)


def _admins(tmp_path: Path) -> int:
    engine = create_engine(f"sqlite:///{tmp_path / 'panel.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM admin_users")).scalar_one())
    finally:
        engine.dispose()


def test_at_a_terminal_the_password_is_asked_twice_and_never_shown(tmp_path: Path) -> None:
    code, screen = _create_at_a_terminal(tmp_path, PASSWORD, PASSWORD)
    assert code == 0, screen
    assert b"Admin 'chef' created." in screen
    assert PASSWORD.encode() not in screen  # no echo
    assert _admins(tmp_path) == 1


def test_two_different_passwords_create_nothing(tmp_path: Path) -> None:
    code, screen = _create_at_a_terminal(tmp_path, PASSWORD, PASSWORD + "x")
    assert code == 1
    assert b"the two passwords differ; nothing created" in screen
    assert PASSWORD.encode() not in screen
    assert not (tmp_path / "panel.db").exists()  # refused before the database was touched


def test_piped_in_the_password_is_one_line_and_nothing_is_asked(tmp_path: Path) -> None:
    result = subprocess.run(
        [*cli_command(), "admin", "create", "chef", "--password-stdin"],
        input=PASSWORD + "\n",
        cwd=tmp_path,
        env=clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'panel.db'}"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Password" not in result.stdout + result.stderr
    assert _admins(tmp_path) == 1
