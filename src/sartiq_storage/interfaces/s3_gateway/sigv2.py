"""AWS Signature Version 2, which boto3 still uses for ``generate_presigned_url`` unless
told ``signature_version="s3v4"`` (and older tools for every request); lakeFS's gateway
accepts it too (``pkg/gateway/sig/v2.go``). HMAC-SHA1 over S3's string to sign."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from sartiq_storage.interfaces.s3_gateway.errors import S3Error
from sartiq_storage.interfaces.s3_gateway.sigv4 import MAX_SKEW, UNSIGNED, Verified

_SUBRESOURCES = frozenset(
    {
        "acl",
        "delete",
        "lifecycle",
        "location",
        "logging",
        "notification",
        "partNumber",
        "policy",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    }
)


def verify_v2(
    *,
    method: str,
    raw_path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    access_key_id: str | None,
    secret: str | None,
    now: datetime,
) -> Verified:
    params = dict(pairs)
    authorization = headers.get("authorization", "")
    if authorization:
        key_id, _, signature = authorization[len("AWS ") :].partition(":")
        date = "" if "x-amz-date" in headers else headers.get("date", "")
        _check_time(headers.get("x-amz-date") or date, now)
    else:
        key_id, signature, date = (
            params["AWSAccessKeyId"],
            params["Signature"],
            params.get("Expires", ""),
        )
        if not date.isdigit():
            raise S3Error("AccessDenied", "Expires must be a number of seconds", 403)
        if now.timestamp() > int(date):
            raise S3Error("AccessDenied", "Request has expired", 403)
    if access_key_id is None or secret is None:
        raise S3Error("AccessDenied", "no datasets credentials are set on this server", 403)
    if not hmac.compare_digest(key_id.encode(), access_key_id.encode()):
        raise S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
        )
    amz = sorted(
        (name, " ".join(value.split()))
        for name, value in headers.items()
        if name.startswith("x-amz-")
    )
    sub = sorted((k, v) for k, v in pairs if k in _SUBRESOURCES)
    resource = raw_path
    if sub:
        resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in sub)
    text = "\n".join(
        (
            method,
            headers.get("content-md5", ""),
            headers.get("content-type", ""),
            date,
            *(f"{k}:{v}" for k, v in amz),
            resource,
        )
    )
    expected = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    try:
        given = base64.b64decode(unquote(signature) if "%" in signature else signature)
    except (binascii.Error, ValueError):
        given = b""  # not base64: matches nothing
    if not hmac.compare_digest(expected, given):
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
        )
    return Verified(key_id, UNSIGNED, b"", "", "", "")


def _check_time(value: str, now: datetime) -> None:
    """A header-signed request is good for 15 minutes around its ``Date`` (or
    ``x-amz-date``), as S3 holds it: without one, a captured request could be replayed
    forever (V2 signs no expiry of its own)."""
    try:
        signed_at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:
            signed_at = datetime.strptime(value, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise S3Error(
                "AccessDenied",
                "AWS authentication requires a valid Date or x-amz-date header",
                403,
            ) from None
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    if abs(now - signed_at) > MAX_SKEW:
        raise S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
            403,
        )
