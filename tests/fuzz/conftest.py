"""Schemathesis against the License API in-process, on each backend, over a seeded database.

`FUZZ_EXAMPLES` sets the generated cases per operation (default 25, the short form of the normal
suite); `FUZZ_STATEFUL_SCENARIOS` and `FUZZ_STATEFUL_STEPS` size the stateful run. The figures
of a run (cases per operation, stateful steps, time) are printed at the end of the session.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import schemathesis
from schemathesis.python import asgi

from licenseserver.api.app import create_api_app
from tests.fuzz.figures import FIGURES, install_hooks, report
from tests.fuzz.seed import seed_database
from tests.support.world import TestWorld

NEGATIVE_DATA_STATUSES = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_STATEFUL_SCENARIOS = int(os.environ.get("FUZZ_STATEFUL_SCENARIOS", "6"))
FUZZ_STATEFUL_STEPS = int(os.environ.get("FUZZ_STATEFUL_STEPS", "10"))
# The short form in the normal suite draws the same cases every run, so it never flickers; a sized
# run (scripts/fuzz) draws new ones each time, to find what earlier runs did not.
FUZZ_DETERMINISTIC = "FUZZ_EXAMPLES" not in os.environ


@pytest.fixture
def fuzz_schema(world: TestWorld) -> Iterator[schemathesis.BaseSchema]:
    """The License API's own /openapi.json, loaded from the app that serves it, with the key set."""
    seeded = seed_database(world)
    app = create_api_app(world.settings())
    config = schemathesis.Config.from_dict(
        {
            "headers": {"X-API-Key": world.api_key},
            # A body too large to read is refused (413) before it is validated: for invalid data
            # that is a rejection too (the management API's arrays can be generated that large).
            "checks": {"negative_data_rejection": {"expected-statuses": NEGATIVE_DATA_STATUSES}},
            "generation": {
                "max-examples": FUZZ_EXAMPLES,
                "database": "none",
                "deterministic": FUZZ_DETERMINISTIC,
            },
        }
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    install_hooks(schema, seeded, world.backend)
    try:
        yield schema
    finally:
        # The ASGI transport keeps an app's lifespan (and its connection pool) open until the
        # process exits; close it now, before the test's database goes away.
        asgi.shutdown_lifespans()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES.calls or FIGURES.stateful_steps:
        for line in report():
            terminalreporter.write_line(line)
