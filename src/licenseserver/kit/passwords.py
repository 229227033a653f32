"""Staff passwords: argon2id above OWASP's minimum (m = 19 MiB, t = 2, p = 1), hashed and verified
in a thread pool of their own, never on the event loop."""

from __future__ import annotations

import asyncio
import functools
import os
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP's recommended argon2id setting (m = 19 MiB, t = 2, p = 1): ~25 ms on our 2-core machines.
# Log-in throttling (5 attempts a minute) limits guessing far more than extra cost would.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the username is unknown, so a log-in takes as long whether or not it exists.
DUMMY_HASH = HASHER.hash("no user has this password")


@functools.cache
def _pool_of_process(pid: int) -> ThreadPoolExecutor:
    """One thread per core: a burst of log-ins queues for the CPU instead of holding 19 MiB per
    hash in dozens of threads. Keyed by the process id because the CLI may hash before the server
    forks its workers, and a pool's threads do not survive a fork."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix=f"password-hash-{pid}")


def _hash_now(password: str) -> str:
    return HASHER.hash(password)


def _verify_now(password_hash: str | None, password: str) -> bool:
    try:
        return HASHER.verify(password_hash or DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    # A hash takes ~25 ms of CPU: on the event loop it held up every other request (/health waited
    # 95 ms during a burst of 40 log-ins).
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool_of_process(os.getpid()), _hash_now, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; None (an unknown user) costs a verification all the same."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_pool_of_process(os.getpid()), _verify_now, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)
