"""A flame graph of the API under load: py-spy (the `bench` extras) attached to the server's
process tree for the length of one wrk run. py-spy reads the process with ptrace, so it needs
root or CAP_SYS_PTRACE (in a container: `--cap-add SYS_PTRACE`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

SAMPLES_PER_SECOND = 200
START_SECONDS = 1  # py-spy attaches before wrk starts, so the whole run is sampled


def py_spy() -> str | None:
    beside_python = Path(sys.executable).with_name("py-spy")
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def start_recording(pid: int, seconds: int, svg: Path, log: Path) -> subprocess.Popen[bytes]:
    """py-spy record on `pid` and its children (the worker processes with --workers > 1)."""
    program = py_spy()
    if program is None:
        raise RuntimeError("py-spy not found: .venv/bin/pip install -e '.[bench]'")
    svg.parent.mkdir(parents=True, exist_ok=True)
    command = [program, "record", "--pid", str(pid), "--subprocesses", "--duration", str(seconds + START_SECONDS)]
    command += ["--rate", str(SAMPLES_PER_SECOND), "--format", "flamegraph", "--output", str(svg)]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


def finish_recording(recorder: subprocess.Popen[bytes], seconds: int, log: Path) -> None:
    try:
        code = recorder.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        recorder.wait()
        raise RuntimeError(f"py-spy did not finish, see {log}") from None
    if code != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"py-spy failed ({code}): {' / '.join(tail)} (it needs ptrace: root or CAP_SYS_PTRACE)")
