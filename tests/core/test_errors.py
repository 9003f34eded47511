"""A store client's failure text becomes a short reason a caller may see (never the text)."""

from __future__ import annotations

import pytest

from sartiq_storage.core.errors import StoreUnavailableError, store_failure_reason

DUMP = (
    "Generic S3 error: Error performing GET http://10.1.2.3:9000/private-bucket/media/x in "
    '1.2s - {what}\n\nDebug source:\nGeneric {{\n    store: "S3",\n    source: RetryError(\n'
    "        RetryErrorImpl {{\n            retries: 4,\n            retry_timeout: 180s,\n"
    "            inner: {inner}\n        }},\n    ),\n}}"
)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            DUMP.format(what="error sending request", inner="Connection refused (os error 111)"),
            "connection refused",
        ),
        (
            DUMP.format(
                what="Server returned non-2xx status code: 503 Service Unavailable",
                inner="Status { status: 503 }",
            ),
            "HTTP 503",
        ),
        (
            DUMP.format(
                what="Server returned non-2xx status code: 403 Forbidden",
                inner="Status { status: 403 }",
            ),
            "access denied (check the credentials)",
        ),
        (DUMP.format(what="error sending request", inner="operation timed out"), "timed out"),
        (
            DUMP.format(what="dns error: failed to lookup address information", inner="x"),
            "host name not resolved",
        ),
        (
            'EndpointConnectionError: Could not connect to the endpoint URL: "http://h:1/b/k"',
            "could not connect",
        ),
        ("HTTP 404 NoSuchBucket: An error occurred (NoSuchBucket)", "bucket not found"),
        ("HTTP 500 InternalError: An error occurred (InternalError)", "HTTP 500"),
        ("something nobody foresaw at http://10.1.2.3:9000/private-bucket", "request failed"),
    ],
)
def test_reasons(text: str, reason: str) -> None:
    assert store_failure_reason(text) == reason
    error = StoreUnavailableError.from_cause(text)
    assert str(error) == f"object store unavailable: {reason}"
    assert error.cause == text  # kept whole for the log
    assert "private-bucket" not in str(error)
    assert "\n" not in str(error)
