"""A default device identifier. It is a reasonable default only: a vendor who knows the machines
better (a dongle, a TPM, an MDM inventory id) should pass its own `hardware_hash`."""

from __future__ import annotations

import contextlib
import hashlib
import platform
import subprocess
import sys
import uuid
from pathlib import Path

_MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


def default_hardware_hash() -> str:
    """SHA-256 (hex) over the operating system's machine id; stable across reboots, changed by a reinstall."""
    source = _machine_id() or f"{platform.node()}|{uuid.getnode():012x}|{platform.machine()}"
    # A prefix, so the value sent to the server is not the raw machine id other software uses.
    return hashlib.sha256(f"licenseserver-client:{source}".encode()).hexdigest()


def _machine_id() -> str | None:
    if sys.platform == "win32":
        return _windows_machine_guid()
    if sys.platform == "darwin":
        return _mac_platform_uuid()
    for name in _MACHINE_ID_FILES:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            value = Path(name).read_text(encoding="ascii").strip()
            if value:
                return value
    return None


def _windows_machine_guid() -> str | None:
    try:
        import winreg

        key = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography")  # type: ignore[attr-defined,unused-ignore]
        value, _ = winreg.QueryValueEx(key, "MachineGuid")  # type: ignore[attr-defined,unused-ignore]
        return str(value)
    except (ImportError, OSError):
        return None


def _mac_platform_uuid() -> str | None:
    try:
        output = subprocess.run(
            ["/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice"], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in output.splitlines():
        if "IOPlatformUUID" in line:
            return line.rsplit("=", 1)[-1].strip().strip('"')
    return None
