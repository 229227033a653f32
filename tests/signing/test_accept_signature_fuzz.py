"""Whatever a client puts in Accept-Signature, the License API answers it 200 or 400 — never 500 —
and signs the answer (docs/signatures.md: a malformed header is a signed 400 VALIDATION_ERROR)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.api.helpers import VERSION_LATEST, assert_error
from tests.signing.helpers import jwks
from tests.signing.rfc9421 import Answer, check_answer

# The pieces Accept-Signature is made of, so that most values come close to a valid one.
PIECES = ["sig1", "=", "(", ")", ";", ",", " ", '"', "\\", "nonce", "alg", "ed25519", "@status", ":", "?1", "9" * 16]
TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.characters(min_codepoint=0x20, max_codepoint=0x7E)), max_size=40)
VALUES = st.one_of(TEXT.map("".join).map(str.encode), st.binary(max_size=60))


def test_any_accept_signature_is_200_or_a_signed_400(api: TestClient) -> None:
    keys = jwks(api)

    @settings(max_examples=200, deadline=None)
    @given(VALUES)
    def answered(value: bytes) -> None:
        response = api.get(VERSION_LATEST, headers=[(b"accept-signature", value)])
        assert response.status_code in (200, 400), (value, response.text)
        if response.status_code == 400:
            assert_error(response, 400, "VALIDATION_ERROR")
            params = check_answer(Answer.of(response), "GET", VERSION_LATEST, keys, None)
            assert "nonce" not in params
        else:
            assert response.headers["signature-input"], value

    answered()


@pytest.mark.parametrize("nonce_length", [129, 1000, 20_000])
def test_a_long_nonce_is_refused(api: TestClient, nonce_length: int) -> None:
    response = api.get(VERSION_LATEST, headers={"Accept-Signature": f'sig1=();nonce="{"n" * nonce_length}"'})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert "128" in response.json()["error"]
