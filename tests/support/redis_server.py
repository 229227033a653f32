"""Redis for the tests: the shared server at 127.0.0.1:6379 under a key prefix of the test's own,
or a private `redis-server` on a free port that a fault test may kill, pause and start again."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

SHARED_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def unique_prefix(label: str) -> str:
    """A key prefix no other test (or earlier run) uses, so tests never share counters."""
    return f"licenseserver-test-{label}-{uuid.uuid4().hex[:12]}"


def redis_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """PING over a plain socket: True when Redis replies +PONG."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def require_shared_redis() -> None:
    host_port = SHARED_REDIS_URL.split("://", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    assert redis_answers(host, int(port)), f"no Redis answers at {SHARED_REDIS_URL} (.ci/run starts one)"


class PrivateRedis:
    """A `redis-server` of one test, without persistence, on a port of its own."""

    def __init__(self, port: int) -> None:
        assert os.path.exists(REDIS_SERVER), "redis-server is missing: install Debian's redis-server package"
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen([*command, "--daemonize", "no"], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not redis_answers("127.0.0.1", self.port):
            assert self.process.poll() is None, "redis-server exited at start"
            assert time.monotonic() < deadline, "redis-server did not answer within 10 s"
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: gone at once, its counters with it (no persistence)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """SIGSTOP: connections are still accepted by the kernel, but nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None:
            return
        self.resume()  # a stopped process would not act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
