"""Addresses handed out for pre-signed writes, signed so only ours can be linked (lakeFS's way).

lakeFS's ``GetAddressWithSignature``: a fresh address under the namespace's data prefix, with an
HMAC over ``{repository, branch, path, address}`` appended after a comma. The signed address is
the object's key itself, so linking needs no state: recompute the HMAC, check the time the
address carries, and the address is ours, for this path on this branch, and not stale.

Our addresses are ``data/presigned/<unix seconds, hex>-<random>,<signature>``: content-addressed
blobs (``data/<2 hex>/<sha256>``) never look like them, and GC reads the time to spare an
address that can still be linked (see :mod:`~.retention`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import InvalidArgumentError
from sartiq_storage.services.datasets.blobs import DATA_PREFIX
from sartiq_storage.services.datasets.records import RepoRecord

PRESIGNED_PREFIX = f"{DATA_PREFIX}presigned/"
LINK_ADDRESS_SECONDS = 24 * 3600
"""How long an issued address may be linked: lakeFS's ``LinkAddressTime``."""
SIGNING_DELIMITER = ","
_SECRET_KEY = "settings/link_address_secret"  # noqa: S105 - a KV key, not a secret


def issued_at(address: str) -> int | None:
    """The Unix time an issued address was made, or None for any other address."""
    if not address.startswith(PRESIGNED_PREFIX):
        return None
    name = address[len(PRESIGNED_PREFIX) :]
    stamp, dash, _rest = name.partition("-")
    if not dash:
        return None
    try:
        return int(stamp, 16)
    except ValueError:
        return None


def still_linkable(address: str, now: float) -> bool:
    """Whether ``address`` is one we issued whose link window is still open (GC keeps it)."""
    made = issued_at(address)
    return made is not None and now - made <= LINK_ADDRESS_SECONDS


def _message(repository: str, branch: str, path: str, address: str) -> bytes:
    # The same fields, in the same order, as lakeFS's getAddressJSON.
    return json.dumps(
        {"Repository": repository, "Branch": branch, "Path": path, "PhysicalAddress": address},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8", "surrogatepass")


class LinkAddresses:
    """Issues and verifies signed addresses; one secret per repository, kept in its partition
    (a re-created repository gets a new partition, so the old one's addresses stop working)."""

    def __init__(self, kv: KV) -> None:
        self.kv = kv

    def _secret(self, repo: RepoRecord) -> bytes:
        secret = self.kv.get(repo.partition, _SECRET_KEY)
        if secret is None:
            self.kv.set_if(repo.partition, _SECRET_KEY, secrets.token_bytes(32), None)
            secret = self.kv.get(repo.partition, _SECRET_KEY)  # whoever won the race
        assert secret is not None
        return secret

    def _sign(self, repo: RepoRecord, branch: str, path: str, address: str) -> str:
        mac = hmac.new(
            self._secret(repo),
            _message(repo.repository.name, branch, path, address),
            hashlib.sha256,
        )
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")

    def issue(self, repo: RepoRecord, branch: str, path: str, now: float) -> str:
        """A new address (relative to the namespace) that only ``path`` on ``branch`` may link."""
        address = f"{PRESIGNED_PREFIX}{int(now):x}-{secrets.token_hex(10)}"
        return f"{address}{SIGNING_DELIMITER}{self._sign(repo, branch, path, address)}"

    def verify(self, repo: RepoRecord, branch: str, path: str, signed: str, now: float) -> None:
        """InvalidArgumentError (400, lakeFS's ``link address invalid``/``expired``) unless
        ``signed`` is an address we issued for exactly this path and branch, still fresh."""
        address, delimiter, signature = signed.rpartition(SIGNING_DELIMITER)
        if not delimiter or issued_at(address) is None:
            raise InvalidArgumentError("link address invalid: address is not signed")
        expected = self._sign(repo, branch, path, address)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise InvalidArgumentError("link address invalid: invalid address signature")
        if not still_linkable(address, now):
            raise InvalidArgumentError("link address expired")
