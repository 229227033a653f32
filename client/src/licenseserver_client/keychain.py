"""The keys the client trusts, and how they follow a key rotation at the server.

The root is the JWK Set pinned in the program. Past it, the client trusts a JWK Set it fetched
only when a key it already trusted signed that very answer (RFC 9421 lets one answer carry several
signatures: the server signs its JWK Set with every key the set lists). The trusted keys are then
exactly that set's keys: a key rotated in is trusted from then on, and a key the set no longer
lists (retired by staff) is not, even one pinned in the program.

Each set learnt is kept as the signed answer it came in (`links`), and believed again only by
walking from the pinned set through the chain of signatures: editing the cache file adds no key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licenseserver_client.errors import LicenseError
from licenseserver_client.keys import load_key_set
from licenseserver_client.signatures import SignedAnswer, verify_by_any_trusted_key

JWKS_PATH = "/.well-known/jwks.json"
Keys = Mapping[str, Ed25519PublicKey]


@dataclass(frozen=True)
class Link:
    """A JWK Set answer whose signature a key trusted before it vouched for."""

    answer: SignedAnswer
    signer: str
    keys: dict[str, Ed25519PublicKey]


def checked_link(answer: SignedAnswer, trusted: Keys, now: float, *, check_age: bool = True) -> Link | None:
    """The JWK Set in this answer when a key in `trusted` signed it for this request; else None."""
    if answer.status != 200 or answer.method != "GET" or not answer.path.endswith(JWKS_PATH):
        return None
    try:
        verified = verify_by_any_trusted_key(answer, trusted, now, check_age=check_age)
        document = json.loads(answer.body)
        if not isinstance(document, dict):
            return None
        return Link(answer, verified.kid, load_key_set(document))
    except (LicenseError, ValueError):  # SignatureError and KeySetError included
        return None


class KeyChain:
    def __init__(self, pinned: Keys, links: Sequence[SignedAnswer] = ()) -> None:
        self.pinned = dict(pinned)
        self.links: list[Link] = []
        trusted: Keys = self.pinned
        for answer in links:
            # Read back from the cache: its age no longer matters, its signature does. A link that
            # does not hold (edited, or the program now pins other keys) ends the chain there.
            link = checked_link(answer, trusted, 0.0, check_age=False)
            if link is None:
                break
            self.links.append(link)
            trusted = link.keys
        self.trusted: Keys = trusted  # replaced whole, never changed in place: safe to read unlocked

    def adopt(self, answer: SignedAnswer, now: float) -> bool:
        """Trust the JWK Set of a freshly fetched answer if a trusted key signed it. True when the
        trusted keys changed (the caller then keeps `links`)."""
        link = checked_link(answer, self.trusted, now)
        if link is None or set(link.keys) == set(self.trusted):
            return False
        # The shortest chain that still vouches for the new set: up to the first set that already
        # trusted its signer, so the chain grows only when every older link's keys were retired.
        vouching = [self.pinned, *(earlier.keys for earlier in self.links)]
        depth = next(at for at, keys in enumerate(vouching) if link.signer in keys)
        self.links = [*self.links[:depth], link]
        self.trusted = link.keys
        return True
