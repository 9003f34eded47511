"""What the lifecycle and CORS halves share: our rule-ID prefix and bucket-call errors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from sartiq_storage.core.errors import StoreUnavailableError
from sartiq_storage.core.lifecycle import RULE_ID_PREFIX

MANAGED_ID_PREFIX: Final = RULE_ID_PREFIX


def is_managed(rule_id: str | None) -> bool:
    """Whether a rule is ours (its ID carries our prefix); every other rule is foreign."""
    return bool(rule_id) and str(rule_id).startswith(MANAGED_ID_PREFIX)


def bucket_error(action: str, bucket: str, exc: Exception) -> StoreUnavailableError:
    """The bucket stays out of the message (callers may see it); the log gets the cause."""
    return StoreUnavailableError.from_cause(f"{action} on bucket {bucket!r} failed: {exc}", action)


def read_rules(
    call: Callable[[], Mapping[str, Any]], *, field: str, absent: str, action: str, bucket: str
) -> list[Mapping[str, Any]]:
    """The rules of a bucket document (lifecycle, CORS) as the store returns them; none when
    it answers ``absent`` (nothing configured)."""
    try:
        answer = call()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == absent:
            return []
        raise bucket_error(action, bucket, exc) from exc
    except BotoCoreError as exc:
        raise bucket_error(action, bucket, exc) from exc
    return list(answer.get(field, []))


@contextlib.contextmanager
def writing(action: str, bucket: str) -> Iterator[None]:
    """A write of a bucket document, its failure as :class:`StoreUnavailableError`."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise bucket_error(action, bucket, exc) from exc
