"""Signed URLs for the embedded target, and bearer tokens."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlparse

import jwt
import pytest

from sartiq_storage.core.signing import SignatureError, UrlSigner
from sartiq_storage.core.tokens import TokenError, issue_token, verify_token


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlparse(url).query))


def test_signed_grant_verifies() -> None:
    signer = UrlSigner("s3cret", "http://127.0.0.1:8000/")
    grant = signer.grant(
        "PUT",
        "temp/a.png",
        expires_in=60,
        content_type="image/png",
        content_length=3,
        if_absent=True,
    )
    url = signer.sign(grant)
    assert url.startswith("http://127.0.0.1:8000/_storage/objects/temp/a.png?")
    assert signer.verify("PUT", "temp/a.png", _query(url)) == grant


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: q.update(ct="text/html"),
        lambda q: q.update(len="4"),
        lambda q: q.pop("once"),
        lambda q: q.update(expires=str(int(q["expires"]) + 100)),
        lambda q: q.update(sig="0" * 64),
        lambda q: q.pop("sig"),
    ],
)
def test_tampering_is_detected(tamper) -> None:  # type: ignore[no-untyped-def]
    signer = UrlSigner("s3cret", "http://h")
    url = signer.sign(
        signer.grant(
            "PUT",
            "temp/a",
            expires_in=60,
            content_type="image/png",
            content_length=3,
            if_absent=True,
        )
    )
    query = _query(url)
    tamper(query)
    with pytest.raises(SignatureError):
        signer.verify("PUT", "temp/a", query)


def test_other_key_method_or_secret_fail() -> None:
    signer = UrlSigner("s3cret", "http://h")
    query = _query(signer.sign(signer.grant("PUT", "temp/a", expires_in=60)))
    with pytest.raises(SignatureError):
        signer.verify("PUT", "temp/b", query)
    with pytest.raises(SignatureError):
        signer.verify("GET", "temp/a", query)
    with pytest.raises(SignatureError):
        UrlSigner("other", "http://h").verify("PUT", "temp/a", query)


def test_expiry() -> None:
    signer = UrlSigner("s3cret", "http://h")
    query = _query(signer.sign(signer.grant("GET", "k", expires_in=10, now=time.time() - 20)))
    with pytest.raises(SignatureError, match="expired"):
        signer.verify("GET", "k", query)


def test_tokens() -> None:
    token = issue_token("k", "backend")
    assert verify_token("k", token).subject == "backend"
    with pytest.raises(TokenError, match="expired"):
        verify_token("k", issue_token("k", "x", ttl_seconds=-10))
    with pytest.raises(TokenError):
        verify_token("other", token)
    with pytest.raises(TokenError):
        verify_token("k", "garbage")
    none_alg = jwt.encode({"sub": "x", "exp": time.time() + 60}, key=None, algorithm="none")
    with pytest.raises(TokenError):
        verify_token("k", none_alg)
    no_exp = jwt.encode({"sub": "x"}, "k", algorithm="HS256")
    with pytest.raises(TokenError):
        verify_token("k", no_exp)
