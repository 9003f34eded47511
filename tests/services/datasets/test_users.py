"""The datasets API's users and keys in the KV store: what authenticates, what is kept."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.datasets.kv import MemoryKV
from sartiq_storage.core.datasets.errors import (
    AlreadyExistsError,
    InvalidArgumentError,
    NotFoundError,
)
from sartiq_storage.services.datasets.users import AUTH, DatasetUsers


def _users(kv: MemoryKV, secret: str = "token-secret") -> DatasetUsers:
    return DatasetUsers(
        kv, encryption_secret=secret, configured=("AKIACONFIGURED", "conf-secret"), clock=lambda: 7
    )


def test_a_new_key_authenticates_its_user_and_is_kept_only_hashed_and_encrypted() -> None:
    kv = MemoryKV()
    users = _users(kv)
    users.create_user("ana")
    made = users.create_credentials("ana")
    assert users.authenticate(made.access_key_id, made.secret_access_key) == "ana"
    assert users.authenticate(made.access_key_id, "wrong") is None
    assert users.authenticate("AKIACONFIGURED", "conf-secret") == "admin"
    stored = b"".join(value for _key, value in kv.scan(AUTH))
    assert made.secret_access_key.encode() not in stored
    assert users.secret_for(made.access_key_id) == ("ana", made.secret_access_key)
    # Another encryption secret: SigV4 cannot read it any more, basic auth still works.
    other = _users(kv, secret="rotated")
    assert other.secret_for(made.access_key_id) is None
    assert other.authenticate(made.access_key_id, made.secret_access_key) == "ana"


def test_users_and_their_keys_go_together() -> None:
    users = _users(MemoryKV())
    users.create_user("bo")
    with pytest.raises(AlreadyExistsError):
        users.create_user("bo")
    with pytest.raises(InvalidArgumentError):
        users.create_user("50%")
    first, second = users.create_credentials("bo"), users.create_credentials("bo")
    listed = [c.access_key_id for c in users.list_credentials("bo")]
    assert listed == sorted([first.access_key_id, second.access_key_id])
    assert [c.access_key_id for c in users.list_credentials("bo", amount=1)] == listed[:1]
    with pytest.raises(NotFoundError, match="credentials not found"):
        users.get_credentials("admin", first.access_key_id)
    users.delete_user("bo")
    assert users.authenticate(first.access_key_id, first.secret_access_key) is None
    with pytest.raises(NotFoundError, match="user not found"):
        users.list_credentials("bo")
    assert [u.id for u in users.list_users()] == ["admin"]
    assert [c.access_key_id for c in users.list_credentials("admin")] == ["AKIACONFIGURED"]
    with pytest.raises(InvalidArgumentError):
        users.delete_credentials("admin", "AKIACONFIGURED")
