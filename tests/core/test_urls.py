"""URL resolution per environment, and the reverse that refuses foreign URLs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sartiq_storage.core.config import load_settings
from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.urls import ForeignUrlError, UrlResolver, public_base_for

KEY = "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.webp"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ("production", "https://media.sartiq.com"),
        ("staging", "https://staging-media.sartiq.com"),
    ],
)
def test_seed_table(monkeypatch: pytest.MonkeyPatch, env: str, expected: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", env)
    monkeypatch.setenv("AUTH_JWT_SECRET", "x")
    resolver = UrlResolver.from_settings(load_settings())
    assert resolver.public_url(KEY) == f"{expected}/{KEY}"


def test_development_minio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("R2_ENDPOINT_URL", "http://localhost:9002")
    monkeypatch.setenv("R2_ACCESS_KEY_ID", "minio")
    monkeypatch.setenv("R2_SECRET_ACCESS_KEY", "minio123")
    base = public_base_for(load_settings())
    assert base == "http://localhost:9002/shootify-media-dev"


def test_development_embedded_points_at_the_service(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORAGE_SERVICE_URL", "http://127.0.0.1:8123")
    resolver = UrlResolver.from_settings(load_settings())
    assert resolver.public_url("media/x/file.png") == (
        "http://127.0.0.1:8123/_storage/public/media/x/file.png"
    )


def test_cdn_url_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("CDN_URL", "https://cdn.example.com/base/")
    assert public_base_for(load_settings()) == "https://cdn.example.com/base"


def test_reverse_resolution() -> None:
    resolver = UrlResolver("https://media.sartiq.com", upload_bases=["http://minio:9000/bucket"])
    assert resolver.key_from_url(f"https://media.sartiq.com/{KEY}") == KEY
    assert resolver.key_from_url("HTTPS://MEDIA.SARTIQ.COM/temp/a_1_b.jpg?x=1") == "temp/a_1_b.jpg"
    assert resolver.key_from_url("http://minio:9000/bucket/temp/a_1_b.jpg") == "temp/a_1_b.jpg"
    assert resolver.key_from_url("https://media.sartiq.com/media/caf%C3%A9/file.png") == (
        "media/café/file.png"
    )
    assert resolver.key_from_url("https://media.sartiq.com/temp/x", prefix="temp/") == "temp/x"


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/media/x/file.png",
        "https://media.sartiq.com.evil.com/media/x",
        "https://media.sartiq.com@evil.com/media/x",
        "https://user@media.sartiq.com/media/x",
        "http://media.sartiq.com/media/x",  # scheme differs
        "https://media.sartiq.com:444/media/x",
        "https://media.sartiq.com/media/x#frag",
        "https://media.sartiq.com\\@evil.com/x",
        "https://media.sartiq.com/x\r\nLocation: evil",
        "http://minio:9000/otherbucket/temp/x",
        "http://minio:9000/bucketx/temp/x",
        "file:///etc/passwd",
        "//media.sartiq.com/media/x",
        "not a url",
    ],
)
def test_foreign_urls_are_refused(url: str) -> None:
    resolver = UrlResolver("https://media.sartiq.com", upload_bases=["http://minio:9000/bucket"])
    with pytest.raises(ForeignUrlError):
        resolver.key_from_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://media.sartiq.com/media/%2e%2e/x",
        "https://media.sartiq.com/media/%252e%252e/x",
        "https://media.sartiq.com/a/%00b",
    ],
)
def test_traversal_through_urls_is_refused(url: str) -> None:
    resolver = UrlResolver("https://media.sartiq.com")
    with pytest.raises((InvalidKeyError, ForeignUrlError)):
        resolver.key_from_url(url)


def test_prefix_is_enforced() -> None:
    resolver = UrlResolver("https://media.sartiq.com")
    with pytest.raises(ForeignUrlError, match="temp/"):
        resolver.key_from_url("https://media.sartiq.com/media/x/file.png", prefix="temp/")


@given(
    segments=st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=["Cc", "Cs", "Cn", "Zl", "Zp"]),
            min_size=1,
            max_size=12,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_public_url_round_trips(segments: list[str]) -> None:
    resolver = UrlResolver("https://media.sartiq.com")
    try:
        url = resolver.public_url("/".join(segments))
    except InvalidKeyError:
        return
    key = resolver.key_from_url(url)
    assert resolver.public_url(key) == url
