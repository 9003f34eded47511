"""How the S3 backend reads failures: error translation and the retry decision.

Both clients (obstore on the data plane, boto3 on the control plane) fail in their own
vocabulary; every call goes through :func:`translated` so callers see only the
``core.errors`` classes. :func:`answered` and :func:`pause` decide whether and when one of our
own repeats (on top of the clients' retries) is worth making.
"""

from __future__ import annotations

import contextlib
import random
import re
from collections.abc import Iterator

from botocore.exceptions import BotoCoreError, ClientError
from obstore import exceptions as obx

from sartiq_storage.core.errors import (
    BucketNotFoundError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoreUnavailableError,
)

_RETRIED = re.compile(r"after ([1-9][0-9]*) retries")
RANGE_REFUSED = re.compile(r"status(?: code)?: 416\b|InvalidRange")
"""A 416 in obstore's error text (not any "416" in it: a bucket or port may hold one)."""


def boto_error_code(exc: ClientError) -> tuple[str, int]:
    """The S3 error code and HTTP status of a boto3 failure."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status)


def precondition_failed(exc: ClientError) -> bool:
    """A 412: a condition of the request (create-only, a pinned source) did not hold."""
    code, status = boto_error_code(exc)
    return status == 412 or code == "PreconditionFailed"


@contextlib.contextmanager
def translated(key: str) -> Iterator[None]:
    """Either client's failure on ``key`` as the matching ``core.errors`` class."""
    try:
        yield
    except (obx.NotFoundError, FileNotFoundError) as exc:
        if "NoSuchBucket" in str(exc):  # the bucket is missing, not the object
            raise BucketNotFoundError.from_cause(exc) from exc
        raise ObjectNotFoundError(key) from None
    except (obx.AlreadyExistsError, obx.PreconditionError, FileExistsError):
        raise PreconditionFailedError(key) from None
    except (obx.BaseError, OSError) as exc:
        raise StoreUnavailableError.from_cause(exc) from exc
    except ClientError as exc:
        code, status = boto_error_code(exc)
        if code == "NoSuchBucket":
            raise BucketNotFoundError.from_cause(f"HTTP {status} {code}") from exc
        if status == 404 or code in ("NoSuchKey", "NotFound", "404"):
            raise ObjectNotFoundError(key) from None
        if status == 412 or code in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise PreconditionFailedError(key) from None
        raise StoreUnavailableError.from_cause(f"HTTP {status} {code}: {exc}") from exc
    except BotoCoreError as exc:
        raise StoreUnavailableError.from_cause(exc) from exc


def answered(exc: StoreUnavailableError) -> bool:
    """Whether repeating is pointless: the store answered (an HTTP status, already retried by
    obstore), or obstore already spent its own retries on the transport (an outage: our
    repeats on top would multiply them). What is left is a failure obstore does not repeat:
    a reset on a create-only PUT, a body cut mid-stream."""
    message = exc.cause
    return "status code" in message or _RETRIED.search(message) is not None


def pause(attempt: int) -> float:
    """Full-jitter backoff between our own repeats: up to 0.1 s, 0.2 s, 0.4 s... (2 s cap)."""
    return random.uniform(0, min(2.0, 0.1 * 2 ** (attempt - 1)))  # noqa: S311 - jitter
