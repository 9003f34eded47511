"""Signed URLs for the embedded target, and bearer tokens."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlparse

import jwt
import pytest

from sartiq_storage.core.signing import SignatureError, UrlSigner
from sartiq_storage.core.tokens import (
    KEPT_SECONDS,
    TokenError,
    VerifiedTokens,
    issue_token,
    verify_token,
)


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


# -- verified tokens kept a short while (VerifiedTokens) ----------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def test_a_kept_token_is_refused_at_its_expiry() -> None:
    tokens = VerifiedTokens("s" * 40)  # the default bound: 30 s, far beyond this token's life
    token = issue_token("s" * 40, "alice", ttl_seconds=2)
    assert tokens.verify(token).subject == "alice"
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(TokenError, match="expired"):
        tokens.verify(token)  # kept, but not past its exp


def test_a_kept_token_is_checked_again_after_the_bound() -> None:
    clock = Clock()
    tokens = VerifiedTokens("s" * 40, clock=clock)
    token = issue_token("s" * 40, "alice", scopes=["uploads"])
    assert tokens.verify(token).scopes == {"uploads"}
    tokens.secret = "t" * 40  # what a revocation would do: the next full check refuses it
    clock.now += KEPT_SECONDS - 1
    assert tokens.verify(token).subject == "alice"  # within the bound: taken on trust
    clock.now += 1
    with pytest.raises(TokenError, match="invalid token"):
        tokens.verify(token)  # the bound passed: checked in full, and refused


def test_refusals_are_never_kept_and_the_size_is_bounded() -> None:
    tokens = VerifiedTokens("s" * 40, size=2)
    forged = issue_token("x" * 40, "mallory")
    for _ in range(2):
        with pytest.raises(TokenError):
            tokens.verify(forged)
    assert tokens._kept == {}
    kept = [issue_token("s" * 40, f"user{i}") for i in range(3)]
    assert [tokens.verify(t).subject for t in kept] == ["user0", "user1", "user2"]
    assert len(tokens._kept) == 2  # the oldest went
    assert tokens.verify(kept[0]).subject == "user0"  # checked again, still valid
