"""The local cache file: the last valid verify answer per license and device (for the grace
period), the newest time the server has signed (for the clock guard), and the JWK Sets learnt
through key rotations (keychain.py).

Nothing in it is believed as written. Every entry is a signed answer kept whole — status,
signature headers, body, and the request's method, path and nonce — or an offline license file,
and each is checked again when read: the learnt JWK Sets from the pinned keys on, the rest against
the keys trusted then. Editing the file therefore gains
nothing, and deleting it only loses the grace period along with the guard.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client.errors import LicenseError
from licenseserver_client.keychain import KeyChain
from licenseserver_client.offline import verify_license_file
from licenseserver_client.signatures import SignedAnswer, Verified, nonce_binds, verify_answer

FORMAT = 1
NEWEST_STEP_SECONDS = 30


def default_cache_path(base_url: str) -> Path:
    """A file under the user's cache folder, one per server address."""
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    name = hashlib.sha256(base_url.rstrip("/").encode("utf-8")).hexdigest()[:16]
    return root / "licenseserver-client" / f"{name}.json"


def _answer_to_json(answer: SignedAnswer) -> dict[str, Any]:
    return {
        "status": answer.status,
        "headers": dict(answer.headers),
        "body": base64.b64encode(answer.body).decode("ascii"),
        "method": answer.method,
        "path": answer.path,
        "nonce": answer.nonce,
        "request_body": base64.b64encode(answer.request_body).decode("ascii"),
    }


def _answer_from_json(data: Any) -> SignedAnswer:
    headers = data["headers"]
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise ValueError("bad headers")
    status, method, path, nonce = data["status"], data["method"], data["path"], data["nonce"]
    if not isinstance(status, int) or not all(isinstance(v, str) for v in (method, path, nonce)):
        raise ValueError("bad fields")
    body = base64.b64decode(data["body"], validate=True)
    request_body = base64.b64decode(data["request_body"], validate=True)
    if not nonce_binds(nonce, request_body):
        raise ValueError("the request body is not the one the answer was asked for")
    return SignedAnswer(status, headers, body, method, path, nonce, request_body)


class LocalState:
    """The cache file, read once and written through; safe to share with the heartbeat thread."""

    def __init__(self, path: Path, pinned: Mapping[str, Ed25519PublicKey]) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data = self._read()
        self.keychain = KeyChain(pinned, self._stored_key_sets())
        self._newest = self._evidence_time(self._data.get("newest"))

    @property
    def keys(self) -> Mapping[str, Ed25519PublicKey]:
        """The keys trusted now: the pinned set, or the last JWK Set learnt from it."""
        return self.keychain.trusted

    def learn_key_set(self, answer: SignedAnswer, now: float) -> bool:
        """Trust the JWK Set of this freshly fetched answer if a trusted key signed it, and keep it;
        True when the trusted keys changed."""
        with self._lock:
            if not self.keychain.adopt(answer, now):
                return False
            self._data["key_sets"] = [_answer_to_json(link.answer) for link in self.keychain.links]
            self._write()
            return True

    @staticmethod
    def verify_key(license_key: str, hardware_hash: str) -> str:
        return hashlib.sha256(f"{license_key}\0{hardware_hash}".encode()).hexdigest()

    def newest_server_time(self) -> int | None:
        return self._newest

    def record_answer(self, answer: SignedAnswer, verified: Verified) -> None:
        self._record_newest(verified.created, {"answer": _answer_to_json(answer)})

    def record_license_file(self, token: str, issued_at: int) -> None:
        self._record_newest(issued_at, {"license_file": token})

    def store_verify(self, key: str, answer: SignedAnswer) -> None:
        with self._lock:
            self._data.setdefault("verify", {})[key] = _answer_to_json(answer)
            self._write()

    def drop_verify(self, key: str) -> None:
        with self._lock:
            if self._data.get("verify", {}).pop(key, None) is not None:
                self._write()

    def load_verify(self, license_key: str, hardware_hash: str) -> tuple[SignedAnswer, Verified] | None:
        """The cached verify answer, if it is still a genuine signed answer to this very question."""
        with self._lock:
            entry = self._data.get("verify", {}).get(self.verify_key(license_key, hardware_hash))
        try:
            answer = _answer_from_json(entry)
            asked = json.loads(answer.request_body)
            if (asked["license_key"], asked["hardware_hash"]) != (license_key, hardware_hash):
                return None
            if answer.method != "POST" or not answer.path.endswith("/api/license/verify"):
                return None
            return answer, verify_answer(answer, self.keys, 0.0, check_age=False)
        except (LicenseError, ValueError, KeyError, TypeError):
            return None

    def _stored_key_sets(self) -> list[SignedAnswer]:
        stored = self._data.get("key_sets")
        answers = []
        for entry in stored if isinstance(stored, list) else []:
            try:
                answers.append(_answer_from_json(entry))
            except (ValueError, KeyError, TypeError):
                break  # the chain ends at the first unreadable link
        return answers

    def _record_newest(self, when: int, evidence: dict[str, Any]) -> None:
        with self._lock:
            # Far finer than the clock guard's tolerance, and spares a file write on every call.
            if self._newest is not None and when < self._newest + NEWEST_STEP_SECONDS:
                return
            self._newest = when
            self._data["newest"] = evidence
            self._write()

    def _evidence_time(self, evidence: Any) -> int | None:
        try:
            if "answer" in evidence:
                return verify_answer(_answer_from_json(evidence["answer"]), self.keys, 0.0, check_age=False).created
            claims, _ = verify_license_file(str(evidence["license_file"]), self.keys)
            return int(claims["iat"])
        except (LicenseError, ValueError, KeyError, TypeError):
            return None  # unreadable or edited: as if never seen

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"format": FORMAT}
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("verify", {}), dict):
            return {"format": FORMAT}
        return data

    def _write(self) -> None:
        # Written whole to a temporary file and renamed, so a crash never leaves half a file.
        # A cache that cannot be written must not stop the program: it only loses the grace period.
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".cache-", suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    json.dump(self._data, out)
                os.replace(temporary, self.path)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
