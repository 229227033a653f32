"""The public half of the signing keys, for anyone checking our signatures (no API key)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from licenseserver.api.schemas import DB_ERRORS, SIZE_ERRORS, JwkSet, errors
from licenseserver.api.signing import sign_with_every_published_key
from licenseserver.api.state import api_state
from licenseserver.domain.signing.keys import published_keys_sealed
from licenseserver.kit.jsonresp import JsonResponse

router = APIRouter(tags=["Signatures"])
# Clients may cache the set this long; a rotated-in key signs at once, so a client that meets an
# unknown kid fetches the set again, and believes it when a key it already trusts signed it
# (docs/signatures.md, "Key rotation").
JWKS_CACHE_CONTROL = "public, max-age=300"


@router.get(
    "/.well-known/jwks.json",
    summary="Public signing keys (JWK Set)",
    description=(
        "Current and previous Ed25519 keys, the current key first (RFC 7517). Asked with"
        " Accept-Signature, the answer is signed by each of these keys: the current one under the"
        " asked label, the n-th previous one under `<label>-n`."
    ),
    response_model=JwkSet,
    responses=errors(*SIZE_ERRORS, *DB_ERRORS),
)
async def jwks(request: Request) -> Response:
    state = api_state(request)
    await state.signing.get()  # makes the first key when `migrate` has not run yet
    async with state.db.autocommit() as conn:
        published = await published_keys_sealed(conn)
        signers = await state.signing.published(conn, [(info.kid, sealed) for info, sealed in published])
    if signers and signers[0].kid == published[0][0].kid:  # the current key signs under the asked label
        sign_with_every_published_key(request.scope, signers)
    document: dict[str, Any] = {"keys": [info.jwk() for info, _ in published]}
    return JsonResponse(document, headers={"Cache-Control": JWKS_CACHE_CONTROL})
