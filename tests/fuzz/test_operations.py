"""Every operation of the License API, fed generated valid and invalid requests."""

from __future__ import annotations

from typing import Any

import schemathesis

from tests.fuzz.checks import OUR_CHECKS

schema = schemathesis.pytest.from_fixture("fuzz_schema")


@schema.parametrize()
def test_operation_answers_as_documented(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(additional_checks=OUR_CHECKS)
