"""Every call's answer is refused unless a pinned key signed it over this very request."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conftest import DEVICE, LICENSE_KEY
from fake_license_server import FakeServer
from licenseserver_client import ApiError, LicenseClient, SignatureError, SignatureFailure


def call_each(client: LicenseClient) -> list[Callable[[], object]]:
    return [
        lambda: client.activate(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0"),
        lambda: client.verify(LICENSE_KEY, DEVICE, "1.0.0"),
        lambda: client.info(LICENSE_KEY),
        lambda: client.check_version("1.0.0", LICENSE_KEY),
        lambda: client.checkout(LICENSE_KEY, DEVICE),
    ]


def test_honest_answers_are_accepted_and_typed(client: LicenseClient) -> None:
    activated = client.activate(LICENSE_KEY, DEVICE, "DESKTOP-1", "1.0.0")
    assert activated.activation.id == 7 and activated.activation.machine_name == "DESKTOP-1"
    verified = client.verify(LICENSE_KEY, DEVICE, "1.0.0")
    assert verified.valid and not verified.from_cache and verified.license is not None
    assert verified.license.key == LICENSE_KEY
    info = client.info(LICENSE_KEY)
    assert info.license.customer_name == "ACME Corp" and info.activations[0].hardware_hash == DEVICE
    version = client.check_version("1.0.0")
    assert version.update_available and version.latest_version == "1.1.0"
    offline = client.checkout(LICENSE_KEY, DEVICE)
    assert client.check_offline(offline.license_file.encode(), DEVICE).license_key == LICENSE_KEY


def test_every_request_carries_a_fresh_nonce(client: LicenseClient, server: FakeServer) -> None:
    for call in call_each(client):
        call()
    assert len(server.nonces) == 5 and len(set(server.nonces)) == 5
    assert all(len(nonce) >= 16 for nonce in server.nonces)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ("body", SignatureFailure.DIGEST_MISMATCH),
        ("status", SignatureFailure.BAD_SIGNATURE),
        ("path", SignatureFailure.BAD_SIGNATURE),
        ("nonce", SignatureFailure.NONCE_MISMATCH),
        ("old", SignatureFailure.STALE),
        ("unknown_kid", SignatureFailure.UNKNOWN_KEY),
        ("unsigned", SignatureFailure.MISSING),
    ],
)
def test_tampered_answers_are_refused_with_their_reason(
    client: LicenseClient, server: FakeServer, tamper: str, reason: SignatureFailure
) -> None:
    client.verify(LICENSE_KEY, DEVICE)  # an honest answer first, whose nonce the replay reuses
    server.tamper = tamper
    for call in call_each(client):
        with pytest.raises(SignatureError) as refused:
            call()
        assert refused.value.reason is reason


def test_a_valid_false_turned_true_in_transit_is_refused(client: LicenseClient, server: FakeServer) -> None:
    server.answer("POST", "/api/license/verify", 200, {"valid": False, "message": "No", "code": "LICENSE_EXPIRED"})
    assert client.verify(LICENSE_KEY, DEVICE).valid is False
    server.tamper = "body"  # the fake rewrites false into true, keeping the signature of the original
    with pytest.raises(SignatureError) as refused:
        client.verify(LICENSE_KEY, DEVICE)
    assert refused.value.reason is SignatureFailure.DIGEST_MISMATCH


def test_a_signature_from_the_future_is_refused(client: LicenseClient, server: FakeServer) -> None:
    server.created_offset = 61
    with pytest.raises(SignatureError) as refused:
        client.info(LICENSE_KEY)
    assert refused.value.reason is SignatureFailure.STALE
    server.created_offset = 50  # within the 60 s the wire format allows
    assert client.info(LICENSE_KEY).license.key == LICENSE_KEY


@pytest.mark.parametrize(
    ("signature_input", "reason"),
    [
        ('sig1=("@status" "content-digest");created=1;keyid="k";alg="ed25519";nonce="n"', SignatureFailure.MALFORMED),
        ("sig1=not a dictionary((", SignatureFailure.MALFORMED),
        ('sig2=("@status");created=1', SignatureFailure.MISSING),
    ],
)
def test_unreadable_or_foreign_signature_headers(
    client: LicenseClient, server: FakeServer, signature_input: str, reason: SignatureFailure
) -> None:
    original = server.sign

    def sign(*args: object, **kwargs: object) -> dict[str, str]:
        headers = original(*args, **kwargs)  # type: ignore[arg-type]
        headers["Signature-Input"] = signature_input
        return headers

    server.sign = sign  # type: ignore[method-assign]
    with pytest.raises(SignatureError) as refused:
        client.info(LICENSE_KEY)
    assert refused.value.reason is reason


def test_signed_error_answers_become_api_errors(client: LicenseClient, server: FakeServer) -> None:
    body = {"error": "Activation limit reached", "code": "ACTIVATION_LIMIT_REACHED", "status": 409}
    server.answer("POST", "/api/license/activate", 409, body)
    with pytest.raises(ApiError) as refused:
        client.activate(LICENSE_KEY, "another-device", "DESKTOP-2", "1.0.0")
    assert (refused.value.code, refused.value.status) == ("ACTIVATION_LIMIT_REACHED", 409)
    assert refused.value.message == "Activation limit reached"


def test_an_unsigned_error_answer_is_refused_too(client: LicenseClient, server: FakeServer) -> None:
    server.answer(
        "GET", f"/api/license/info/{LICENSE_KEY}", 404, {"error": "x", "code": "LICENSE_NOT_FOUND", "status": 404}
    )
    server.tamper = "unsigned"
    with pytest.raises(SignatureError) as refused:
        client.info(LICENSE_KEY)
    assert refused.value.reason is SignatureFailure.MISSING and refused.value.status == 404
