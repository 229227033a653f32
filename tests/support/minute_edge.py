"""Keep a log-in burst inside one minute of the throttle's counter.

The throttle counts with the `limits` sliding-window counter, which floors the previous minute's
weighted count: a burst that straddles a minute boundary can get one check more than the limit
(docs/admin.md). Tests that count a burst's checks exactly start it well inside a minute.
"""

from __future__ import annotations

import time

import pytest

LAST_SAFE_SECOND = 45  # a burst and its set-up finish in far less than the 15 s left


@pytest.fixture
def inside_one_minute() -> None:
    second = time.time() % 60
    if second > LAST_SAFE_SECOND:
        time.sleep(60 - second + 0.5)
