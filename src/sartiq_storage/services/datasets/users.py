"""Users and their access keys for the lakeFS-compatible API (lakeFS's auth service, KV half).

Kept in the datasets KV store, partition ``auth``, as lakeFS keeps them in its KV:

* ``users/<id>``: the user (id, creation date, e-mail);
* ``credentials/<access key id>``: the owner, the issue date, the secret's SHA-256 (what
  basic auth compares, so a rotated encryption key never locks anyone out) and the secret
  encrypted (Fernet), which a SigV4 verifier needs in clear and lakeFS also keeps encrypted;
* ``user_credentials/<id>/<access key id>``: the per-user index listings page through.

The configured key pair (``DATASETS_ACCESS_KEY_ID``/``…_SECRET_ACCESS_KEY``) stays the
built-in ``admin``'s first credential; it lives in settings, not here, so it is listed with
admin's keys but cannot be deleted through the API (change the setting instead).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken

from sartiq_storage.adapters.datasets.kv import KV
from sartiq_storage.core.datasets.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
)
from sartiq_storage.services.datasets.records import dumps, loads

AUTH = "auth"
"""The KV partition, as lakeFS names its own."""
ADMIN = "admin"
"""The built-in user the configured key pair belongs to."""
_AKIA_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    creation_date: int
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Credential:
    access_key_id: str
    user_id: str
    creation_date: int


@dataclass(frozen=True, slots=True)
class NewCredential(Credential):
    secret_access_key: str = ""
    """Shown once, in the creation answer; only its hash and an encrypted copy are kept."""


def new_access_key_id() -> str:
    """lakeFS's shape: ``AKIAJ`` + 14 characters of the AWS alphabet + ``Q``."""
    return "AKIAJ" + "".join(secrets.choice(_AKIA_ALPHABET) for _ in range(14)) + "Q"


def new_secret_access_key() -> str:
    """lakeFS's shape: 30 random bytes in standard base64 (40 characters)."""
    return base64.b64encode(secrets.token_bytes(30)).decode("ascii")


def _digest(secret: str) -> str:
    # The secret is 240 random bits: a plain hash cannot be brute-forced, no slow KDF needed.
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class DatasetUsers:
    """lakeFS's users and credentials calls; ``configured``: the settings' key pair."""

    def __init__(
        self,
        kv: KV,
        *,
        encryption_secret: str,
        configured: tuple[str, str] | None,
        clock: Callable[[], float],
    ) -> None:
        """``encryption_secret``: what the stored secrets are encrypted under (the service's
        token secret, as lakeFS uses its ``auth.encrypt.secret_key``)."""
        self.kv = kv
        self.clock = clock
        self.configured = configured
        key = hashlib.sha256(b"sartiq-datasets-credentials\0" + encryption_secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    # -- users -----------------------------------------------------------------------------
    def _admin(self) -> User:
        """The built-in admin, written on first use so its creation date stays put."""
        data = self.kv.get(AUTH, f"users/{ADMIN}")
        if data is None:
            self.kv.set_if(AUTH, f"users/{ADMIN}", dumps(self._user_json(ADMIN, None)), None)
            data = self.kv.get(AUTH, f"users/{ADMIN}")
            assert data is not None
        return self._decode_user(data)

    def _user_json(self, user_id: str, email: str | None) -> dict[str, object]:
        fields: dict[str, object] = {"id": user_id, "creation_date": int(self.clock())}
        if email is not None:
            fields["email"] = email
        return fields

    @staticmethod
    def _decode_user(data: bytes) -> User:
        d = loads(data)
        return User(d["id"], int(d["creation_date"]), d.get("email"))

    def get_user(self, user_id: str) -> User:
        if user_id == ADMIN:
            return self._admin()
        data = self.kv.get(AUTH, f"users/{user_id}")
        if data is None:
            raise NotFoundError("user not found")
        return self._decode_user(data)

    def list_users(self, *, prefix: str = "", after: str = "", amount: int = 100) -> list[User]:
        self._admin()
        out: list[User] = []
        start = f"users/{after}" if after else ""
        for _key, data in self.kv.scan(AUTH, prefix=f"users/{prefix}", after=start):
            out.append(self._decode_user(data))
            if len(out) >= amount:
                break
        return out

    def create_user(self, user_id: str, *, email: str | None = None) -> User:
        """lakeFS refuses only ``%`` in a name; an empty id has no URL, so it is refused too."""
        if "%" in user_id:
            raise InvalidArgumentError("User name cannot contain '%'")
        if not user_id:
            raise InvalidArgumentError("User name cannot be empty")
        self._admin()
        fields = self._user_json(user_id, email)
        if not self.kv.set_if(AUTH, f"users/{user_id}", dumps(fields), None):
            raise AlreadyExistsError("Already exists")
        return User(user_id, int(str(fields["creation_date"])), email)

    def delete_user(self, user_id: str) -> None:
        """The user and every key of theirs, as lakeFS deletes them."""
        if user_id == ADMIN:
            raise InvalidArgumentError(
                "the built-in admin holds the configured key pair and cannot be deleted"
            )
        self.get_user(user_id)
        for key, _data in list(self.kv.scan(AUTH, prefix=f"user_credentials/{user_id}/")):
            self.kv.delete(AUTH, f"credentials/{key.rsplit('/', 1)[1]}")
            self.kv.delete(AUTH, key)
        self.kv.delete(AUTH, f"users/{user_id}")

    # -- credentials -----------------------------------------------------------------------
    def _configured_for(self, user_id: str) -> Credential | None:
        if self.configured is None or user_id != ADMIN:
            return None
        return Credential(self.configured[0], ADMIN, self._admin().creation_date)

    def create_credentials(self, user_id: str) -> NewCredential:
        self.get_user(user_id)
        key_id, secret = new_access_key_id(), new_secret_access_key()
        now = int(self.clock())
        record = {
            "access_key_id": key_id,
            "user_id": user_id,
            "creation_date": now,
            "secret_sha256": _digest(secret),
            "secret_encrypted": self._fernet.encrypt(secret.encode()).decode("ascii"),
        }
        if not self.kv.set_if(AUTH, f"credentials/{key_id}", dumps(record), None):
            raise AlreadyExistsError("Already exists")
        self.kv.set(AUTH, f"user_credentials/{user_id}/{key_id}", b"")
        return NewCredential(key_id, user_id, now, secret)

    def _record(self, access_key_id: str) -> dict[str, object] | None:
        data = self.kv.get(AUTH, f"credentials/{access_key_id}")
        return None if data is None else dict(loads(data))

    def get_credentials(self, user_id: str, access_key_id: str) -> Credential:
        self.get_user(user_id)
        configured = self._configured_for(user_id)
        if configured is not None and configured.access_key_id == access_key_id:
            return configured
        record = self._record(access_key_id)
        if record is None or record["user_id"] != user_id:
            raise NotFoundError("credentials not found")
        return Credential(access_key_id, user_id, int(str(record["creation_date"])))

    def list_credentials(
        self, user_id: str, *, prefix: str = "", after: str = "", amount: int = 100
    ) -> list[Credential]:
        self.get_user(user_id)
        found: list[Credential] = []
        configured = self._configured_for(user_id)
        if configured is not None:
            found.append(configured)
        for key, _data in self.kv.scan(AUTH, prefix=f"user_credentials/{user_id}/"):
            record = self._record(key.rsplit("/", 1)[1])
            if record is not None:
                found.append(
                    Credential(
                        str(record["access_key_id"]), user_id, int(str(record["creation_date"]))
                    )
                )
        found.sort(key=lambda c: c.access_key_id)
        page = [c for c in found if c.access_key_id.startswith(prefix) and c.access_key_id > after]
        return page[:amount]

    def delete_credentials(self, user_id: str, access_key_id: str) -> None:
        configured = self._configured_for(user_id)
        if configured is not None and configured.access_key_id == access_key_id:
            raise InvalidArgumentError(
                "the configured key pair (DATASETS_ACCESS_KEY_ID) is changed in the settings"
            )
        self.get_credentials(user_id, access_key_id)
        self.kv.delete(AUTH, f"credentials/{access_key_id}")
        self.kv.delete(AUTH, f"user_credentials/{user_id}/{access_key_id}")

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, access_key_id: str, secret: str) -> str | None:
        """The user a key pair belongs to, or None (compared in constant time)."""
        if self.configured is not None:
            key_ok = hmac.compare_digest(access_key_id.encode(), self.configured[0].encode())
            secret_ok = hmac.compare_digest(secret.encode(), self.configured[1].encode())
            if key_ok and secret_ok:
                return ADMIN
        record = self._record(access_key_id)
        if record is None:
            return None
        if not hmac.compare_digest(_digest(secret), str(record["secret_sha256"])):
            return None
        return str(record["user_id"])

    def secret_for(self, access_key_id: str) -> tuple[str, str] | None:
        """``(user, secret)`` for a key id: what a SigV4 verifier signs with; None if unknown
        or if the encryption secret changed since the key was made."""
        if self.configured is not None and access_key_id == self.configured[0]:
            return ADMIN, self.configured[1]
        record = self._record(access_key_id)
        if record is None:
            return None
        try:
            secret = self._fernet.decrypt(str(record["secret_encrypted"]).encode()).decode()
        except InvalidToken:
            return None
        return str(record["user_id"]), secret
