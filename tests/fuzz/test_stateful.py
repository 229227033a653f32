"""Client lives generated along the document's links: activate → verify / info → session start →
heartbeat → end, each step fed the license key, hardware hash and session token of the one before."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case, Response
from schemathesis.generation.stateful.state_machine import StepInput, StepOutput

from tests.fuzz.checks import OUR_CHECKS
from tests.fuzz.conftest import FUZZ_DETERMINISTIC, FUZZ_STATEFUL_SCENARIOS, FUZZ_STATEFUL_STEPS
from tests.fuzz.figures import FIGURES


def test_client_lifecycles_follow_the_links(fuzz_schema: schemathesis.BaseSchema, backend: str) -> None:
    class ClientLifecycles(fuzz_schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: StepInput) -> StepOutput:
            output: StepOutput = super().step(input)
            via = input.transition.id if input.transition is not None and input.is_applied else "start"
            FIGURES.stateful_steps[(backend, via, output.response.status_code)] += 1
            return output

        def validate_response(
            self, response: Response, case: Case[Any], additional_checks: Any = None, **kwargs: Any
        ) -> None:
            super().validate_response(response, case, additional_checks=OUR_CHECKS, **kwargs)

    ClientLifecycles.run(
        settings=settings(
            max_examples=FUZZ_STATEFUL_SCENARIOS,
            stateful_step_count=FUZZ_STATEFUL_STEPS,
            phases=[Phase.generate],
            derandomize=FUZZ_DETERMINISTIC,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    followed = {key for key in FIGURES.stateful_steps if key[0] == backend and key[1] != "start" and key[2] == 200}
    # A run that never followed a link to a success tested no client life at all.
    assert followed, "no link was followed to a successful answer"
