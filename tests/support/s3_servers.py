"""Which S3 servers the S3 suites run on, and what each one enforces.

``SARTIQ_TEST_S3`` selects them: ``moto`` (lax: accepts bad signatures, ignores copy
conditions), ``seaweedfs`` (strict, as S3 and R2 are) or ``both`` (the default, and CI's). The
store contract, upload refusals, fault-proxy suite and S3 end-to-end flows run once per selected
server (the ``s3_server`` fixture); the other S3 tests run on one server, moto unless SeaweedFS
alone is selected (the ``s3_endpoint`` fixture).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sartiq_storage.testing.moto_server import moto_client, moto_settings, moto_store

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from sartiq_storage.adapters.stores import S3Store

ServerName = Literal["moto", "seaweedfs"]
SERVERS: tuple[ServerName, ...] = ("moto", "seaweedfs")
SELECTOR = "SARTIQ_TEST_S3"


def selected_servers(value: str | None = None) -> tuple[ServerName, ...]:
    """The servers ``SARTIQ_TEST_S3`` names (``moto``, ``seaweedfs``, ``both``, or a comma list)."""
    raw = (os.environ.get(SELECTOR, "both") if value is None else value).strip().lower()
    names = {"both", *SERVERS} if raw in ("", "both", "all") else set(raw.split(","))
    names.discard("both")
    unknown = names - set(SERVERS)
    if unknown or not names:
        raise ValueError(
            f"{SELECTOR}={raw!r}: expected moto, seaweedfs or both (or a comma-separated list)"
        )
    return tuple(name for name in SERVERS if name in names)


@dataclass(frozen=True)
class S3Server:
    """One running S3 server of the tests, with the tests' credentials."""

    name: ServerName
    endpoint: str

    @property
    def strict(self) -> bool:
        """Whether it checks what S3 and R2 check and moto does not: Signature V4 (so signed
        headers, key and expiry of a presigned URL), anonymous writes, and copy conditions
        (``x-amz-copy-source-if-match``, ``If-None-Match: *`` on CopyObject)."""
        return self.name == "seaweedfs"

    def client(self) -> S3Client:
        return moto_client(self.endpoint)

    def store(self, bucket: str, **options: Any) -> S3Store:
        return moto_store(self.endpoint, bucket, **options)

    def settings(self, bucket: str) -> dict[str, str]:
        """The settings that point the service's R2 backend at ``bucket`` here. On SeaweedFS,
        create-only copies as on AWS (``If-None-Match: *``, atomic there), as the README
        advises a developer to run it."""
        settings = moto_settings(self.endpoint, bucket)
        if self.strict:
            settings["STORAGE_S3_FLAVOR"] = "aws"
        return settings


_RUNNING: dict[str, S3Server] = {}


def register(server: S3Server) -> S3Server:
    _RUNNING[server.endpoint] = server
    return server


def server_at(endpoint: str | None) -> S3Server:
    """The running test server at ``endpoint`` (a store's ``endpoint_url``)."""
    if endpoint is None or endpoint not in _RUNNING:
        raise LookupError(f"no test S3 server at {endpoint!r}")
    return _RUNNING[endpoint]
