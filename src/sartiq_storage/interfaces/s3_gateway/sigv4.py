"""AWS Signature Version 4, checked as S3 checks it: header auth and pre-signed query auth.

The canonical request is rebuilt from what arrived (method, path, query, the signed headers,
the payload hash the client declared), signed with the datasets secret and compared in
constant time. The payload itself is checked while it streams (:mod:`.body`): a declared
SHA-256 at its end, ``aws-chunked`` bodies chunk by chunk with the seed signature found here.
Like lakeFS's gateway (``pkg/gateway/sig/v4.go``), any region in the credential scope is
accepted; the scope's service must be ``s3``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from sartiq_storage.interfaces.s3_gateway.errors import S3Error

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
CHUNKED_MODES = (STREAMING, STREAMING_TRAILER, STREAMING_UNSIGNED_TRAILER)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_EXPIRES = 7 * 24 * 3600
_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


@dataclass(frozen=True, slots=True)
class Verified:
    """A request whose signature matched: what the body checks need next."""

    access_key_id: str
    payload: str
    """The declared payload hash: hex SHA-256, ``UNSIGNED-PAYLOAD`` or a streaming mode."""
    signing_key: bytes
    amz_date: str
    scope: str
    seed_signature: str


def uri_encode(text: str, *, slash: bool) -> str:
    """AWS's URI encoding: every byte but ``A-Za-z0-9-._~`` (and ``/`` in paths)."""
    return quote(text, safe="-_.~/" if slash else "-_.~")


def query_pairs(query_string: bytes) -> list[tuple[str, str]]:
    """The query as sent, decoded (``+`` is kept: AWS clients encode spaces as ``%20``)."""
    pairs = []
    for part in query_string.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((unquote(name), unquote(value)))
    return pairs


def _canonical_query(pairs: list[tuple[str, str]], skip_signature: bool) -> str:
    encoded = sorted(
        (uri_encode(k, slash=False), uri_encode(v, slash=False))
        for k, v in pairs
        if not (skip_signature and k == "X-Amz-Signature")
    )
    return "&".join(f"{k}={v}" for k, v in encoded)


def _canonical_headers(headers: dict[str, str], signed: list[str]) -> str:
    lines = []
    for name in signed:
        if name not in headers:
            raise S3Error("AccessDenied", f"signed header {name!r} is missing", 403)
        value = " ".join(headers[name].split())
        lines.append(f"{name}:{value}\n")
    return "".join(lines)


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.new(f"AWS4{secret}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _parse_date(value: str) -> datetime:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise S3Error(
            "AuthorizationQueryParametersError",
            "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            400,
        ) from None


@dataclass(frozen=True, slots=True)
class _Parts:
    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: list[str]
    signature: str
    amz_date: str


def _credential(value: str) -> tuple[str, str, str, str]:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise S3Error("AuthorizationHeaderMalformed", "the Credential is malformed", 400)
    if parts[3] != "s3":
        raise S3Error("AuthorizationHeaderMalformed", "the Credential's service must be s3", 400)
    return parts[0], parts[1], parts[2], parts[3]


def _from_header(authorization: str, headers: dict[str, str]) -> _Parts:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise S3Error(
            "AccessDenied", "only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported", 403
        )
    fields: dict[str, str] = {}
    for item in rest.split(","):
        name, _, value = item.strip().partition("=")
        fields[name] = value
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise S3Error(
            "AuthorizationHeaderMalformed",
            "the Authorization header needs Credential, SignedHeaders and Signature",
            400,
        )
    key_id, date, region, service = _credential(fields["Credential"])
    amz_date = headers.get("x-amz-date", "")
    if not amz_date:
        raise S3Error("AccessDenied", "AWS authentication requires a valid X-Amz-Date", 403)
    return _Parts(
        key_id,
        date,
        region,
        service,
        fields["SignedHeaders"].split(";"),
        fields["Signature"],
        amz_date,
    )


def _from_query(params: dict[str, str]) -> tuple[_Parts, int]:
    if any(p not in params for p in _PRESIGN_PARAMS):
        raise S3Error(
            "AuthorizationQueryParametersError",
            "Query-string authentication version 4 requires the X-Amz-Algorithm, "
            "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "
            "X-Amz-Expires parameters.",
            400,
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise S3Error("AuthorizationQueryParametersError", "unsupported X-Amz-Algorithm", 400)
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise S3Error(
            "AuthorizationQueryParametersError", "X-Amz-Expires should be a number", 400
        ) from None
    if not 0 <= expires <= MAX_EXPIRES:
        raise S3Error(
            "AuthorizationQueryParametersError",
            "X-Amz-Expires must be between 0 and 604800 seconds",
            400,
        )
    key_id, date, region, service = _credential(params["X-Amz-Credential"])
    parts = _Parts(
        key_id,
        date,
        region,
        service,
        params["X-Amz-SignedHeaders"].split(";"),
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
    )
    return parts, expires


def is_v2(headers: dict[str, str], params: dict[str, str]) -> bool:
    authorization = headers.get("authorization", "")
    return authorization.startswith("AWS ") or (
        not authorization and "Signature" in params and "AWSAccessKeyId" in params
    )


def verify(
    *,
    method: str,
    raw_path: str,
    query_string: bytes,
    headers: dict[str, str],
    access_key_id: str | None,
    secret: str | None,
    now: datetime,
) -> Verified:
    """The verified request, or :class:`S3Error` (``AccessDenied``,
    ``SignatureDoesNotMatch``, ``InvalidAccessKeyId``, …) as S3 answers.

    ``headers``: lower-case names; ``raw_path``: the path as sent, percent-encoded.
    """
    pairs = query_pairs(query_string)
    params = dict(pairs)
    authorization = headers.get("authorization")
    presigned = authorization is None and "X-Amz-Signature" in params
    if authorization is None and not presigned:
        raise S3Error("AccessDenied", "Access Denied (anonymous requests are refused)", 403)
    if presigned:
        parts, expires = _from_query(params)
        payload = params.get("X-Amz-Content-Sha256", UNSIGNED)
    else:
        assert authorization is not None
        parts, expires = _from_header(authorization, headers), -1
        payload = headers.get("x-amz-content-sha256", "")
        if not payload:
            raise S3Error("InvalidRequest", "Missing required header x-amz-content-sha256", 400)
    signed_at = _parse_date(parts.amz_date)
    if parts.amz_date[:8] != parts.date:
        raise S3Error("SignatureDoesNotMatch", "the credential date is not X-Amz-Date's", 403)
    if presigned:
        if now < signed_at - MAX_SKEW:
            raise S3Error("AccessDenied", "Request is not valid yet", 403)
        if now > signed_at + timedelta(seconds=expires):
            raise S3Error("AccessDenied", "Request has expired", 403)
    elif abs(now - signed_at) > MAX_SKEW:
        raise S3Error(
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
            403,
        )
    if access_key_id is None or secret is None:
        raise S3Error("AccessDenied", "no datasets credentials are set on this server", 403)
    if not hmac.compare_digest(parts.access_key_id.encode(), access_key_id.encode()):
        raise S3Error(
            "InvalidAccessKeyId",
            "The AWS Access Key Id you provided does not exist in our records.",
            403,
        )
    if "host" not in parts.signed_headers:
        raise S3Error("AccessDenied", "the host header must be signed", 403)
    scope = f"{parts.date}/{parts.region}/{parts.service}/aws4_request"
    key = signing_key(secret, parts.date, parts.region, parts.service)
    rest = "\n".join(
        (
            _canonical_query(pairs, skip_signature=presigned),
            _canonical_headers(headers, parts.signed_headers),
            ";".join(parts.signed_headers),
            payload,
        )
    )
    matched = False
    # The path as sent (what botocore and the C++ SDK sign), else AWS's encoding of it.
    for path in dict.fromkeys((raw_path, uri_encode(unquote(raw_path), slash=True))):
        canonical = f"{method}\n{path}\n{rest}"
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        expected = sign(key, f"{ALGORITHM}\n{parts.amz_date}\n{scope}\n{digest}")
        matched |= hmac.compare_digest(expected.encode(), parts.signature.encode())
    if not matched:
        raise S3Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your key and signing method.",
            403,
        )
    return Verified(parts.access_key_id, payload, key, parts.amz_date, scope, parts.signature)
