"""The server's image under podman, for tests/deploy/test_image.py: the podman command with the
repository's configuration, the image's CLI run once, and long-running containers of it with the
options compose and Kubernetes give them (read-only root, no capabilities, /tmp in memory)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

import httpx2 as httpx
import pytest

from tests.deploy.files import ROOT

BUILD_SCRIPT = ROOT / "scripts" / "build-image"
# The runc runtime and no ulimits to raise (crun refuses the hybrid cgroups of our machines).
CONTAINERS_CONF = ROOT / "deploy" / "podman" / "containers.conf"
INSTALL_HINT = "apt-get install podman runc mmdebstrap"
# A developer without podman may skip the image tests with this set to 1; CI never honours it.
OPT_OUT_VARIABLE = "LICENSESERVER_SKIP_IMAGE_TESTS"
# The options every container of the server gets here, as in compose.yaml: the host's network
# (PostgreSQL and Redis listen on 127.0.0.1), a read-only root, /tmp in memory, no capabilities.
HARDENED = (
    "--network=host",
    "--read-only",
    "--tmpfs=/tmp",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": os.environ.get("CONTAINERS_CONF", str(CONTAINERS_CONF))}


def require_podman() -> None:
    """Fail, never skip silently, when podman is missing; the opt-out works only outside CI."""
    runc = shutil.which("runc") or shutil.which("runc", path="/usr/sbin")
    if shutil.which("podman") and shutil.which("mmdebstrap") and runc:
        return
    if os.environ.get(OPT_OUT_VARIABLE) == "1" and not os.environ.get("CI"):
        pytest.skip(f"podman is missing and {OPT_OUT_VARIABLE}=1 (install: {INSTALL_HINT})")
    pytest.fail(
        f"The image tests build and run the server's image with podman, which is missing: {INSTALL_HINT}"
        f" (scripts/test does it when run as root). Without it, set {OPT_OUT_VARIABLE}=1 to skip them"
        " on your machine; CI runs them always.",
        pytrace=False,
    )


def podman(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`podman ARGS`, its output as text; the caller checks the exit status."""
    return subprocess.run(
        ["podman", *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=podman_env()
    )


def podman_ok(*args: str, stdin: str | None = None, timeout: float = 120) -> str:
    """`podman ARGS`, which must succeed; its standard output."""
    result = podman(*args, stdin=stdin, timeout=timeout)
    assert result.returncode == 0, f"podman {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout


def environment_options(env: dict[str, str]) -> list[str]:
    return [f"--env={name}={value}" for name, value in env.items()]


def run_cli(image: str, env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """`licenseserver ARGS` in a container of the image that is removed when it exits."""
    options = ["--rm", *HARDENED, *environment_options(env)]
    if stdin is not None:
        options.append("--interactive")
    return podman_ok("run", *options, image, *args, stdin=stdin)


@dataclass
class Container:
    """One serving container of the image on a port of the host's loopback."""

    image: str
    role: str
    port: int
    command: list[str]
    env: dict[str, str]
    name: str = field(default_factory=str)

    def __post_init__(self) -> None:
        self.name = f"licenseserver-test-{os.getpid()}-{self.role}-{uuid.uuid4().hex[:8]}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # The image's health check looks at this container's own port.
        env = {**self.env, "HEALTHCHECK_URL": f"{self.base_url}/health"}
        options = ["--detach", f"--name={self.name}", *HARDENED, *environment_options(env)]
        podman_ok("run", *options, self.image, *self.command)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.state() != "running":
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.role} did not answer /health (state {self.state()}):\n{self.logs()}")

    def state(self) -> str:
        result = podman("inspect", "--format={{.State.Status}}", self.name)
        return result.stdout.strip() if result.returncode == 0 else "gone"

    def exit_code(self) -> int:
        return int(podman_ok("inspect", "--format={{.State.ExitCode}}", self.name).strip())

    def logs(self) -> str:
        result = podman("logs", self.name)
        return (result.stdout + result.stderr)[-4000:]

    def remove(self) -> None:
        podman("rm", "--force", "--volumes", "--time=0", self.name)
