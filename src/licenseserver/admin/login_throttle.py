"""The log-in throttle: one for the log-in form and for the password checks of the account page.

Every password (and code) check first reserves its attempt, for the client's address and for the
username: the hit that counts it is made, in one atomic step, before the check runs. A check that
was counted only after the awaited hash let parallel requests through together (thirty log-ins
sent at once all reached the password check). So at most `login_per_minute` checks a minute run per
address and per username: in this process, or with REDIS_URL across every instance.

A successful check gives its attempt back, so that staff behind one address are not locked out by
their own log-ins. While Redis is away the attempts are counted in-process: the throttle never
fails open (kit/shared_limits.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from licenseserver.admin.deps import request_address
from licenseserver.admin.errors import answer_error
from licenseserver.admin.state import admin_state
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.ratelimit import RateLimiter, Verdict

SCOPE = "login"


class LoginThrottledError(AppError):
    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(429, ErrorCode.RATE_LIMITED, message)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class ReservedAttempt:
    """The counts one password check holds, per throttle key, until it gives them back."""

    limiter: RateLimiter
    per_minute: int
    counts: tuple[tuple[str, Verdict], ...] = ()

    async def give_back(self) -> None:
        for key, verdict in self.counts:
            await self.limiter.give_back(SCOPE, key, self.per_minute, verdict)


def throttle_keys(address: str, username: str) -> tuple[str, str]:
    return f"address:{address}", f"user:{username.lower()}"


async def reserve_attempt(request: Request, username: str, message: str) -> ReservedAttempt:
    """Count a password check for the request's address and `username` before it runs; raises
    LoginThrottledError (with `message`) when either has had its checks this minute."""
    state = admin_state(request)
    attempt = ReservedAttempt(state.login_throttle, (await state.rate_limits.get()).login_per_minute)
    for key in throttle_keys(request_address(request), username):
        verdict = await attempt.limiter.reserve(SCOPE, key, attempt.per_minute)
        if not verdict.allowed:
            await attempt.give_back()  # refused by one key: the attempt costs the other nothing
            raise LoginThrottledError(message, verdict.retry_after_seconds)
        attempt = ReservedAttempt(attempt.limiter, attempt.per_minute, (*attempt.counts, (key, verdict)))
    return attempt


def throttled_answer(request: Request, error: LoginThrottledError) -> Response:
    """The panel's error answer (page or JSON), with the Retry-After the contract promises."""
    response = answer_error(request, error)
    response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response
