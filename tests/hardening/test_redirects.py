"""Redirects: ``GET /files/{path}`` can only send a browser to our own origins.

Over the known open-redirect payloads (``data/open_redirect_payloads.txt``) and generated
paths, under six configurations (production CDN with and without transformations, a CDN URL
with a trailing slash, one with a base path, one with a port, MinIO and the embedded store),
through the real ASGI app, on both the fast path (``fast_files.py``) and the documented FastAPI
route: every 302 ``Location`` parses (``urlsplit``) to exactly a configured origin and lies
under its base path, decoding back to the key; no CR or LF reaches any header; an unknown
query parameter is a 422 with a JSON ``detail``; and both paths answer the same.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.validation import validate_key
from sartiq_storage.services.context import StorageContext
from sartiq_storage.services.delivery import TYPES
from tests.support.asgi import Reply, make_app, make_context, request, to_wire

PAYLOADS_FILE = Path(__file__).parent / "data" / "open_redirect_payloads.txt"
R2 = {
    "R2_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com",
    "R2_ACCESS_KEY_ID": "id",
    "R2_SECRET_ACCESS_KEY": "secret",
}
SERVICE = "http://testserver"


@dataclass(frozen=True)
class Config:
    name: str
    env: dict[str, str]
    public: str
    """The configured public base, exactly as a Location must start (then ``/``)."""
    formats: str | None
    """Where ``?type=`` goes, with ``{fmt}``; None when it goes to ``public`` unchanged."""


CONFIGS = [
    Config(
        "production-cloudflare",
        {"ENVIRONMENT": "production", "CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED": "true", **R2},
        "https://media.sartiq.com",
        "https://media.sartiq.com/cdn-cgi/image/format={fmt}",
    ),
    Config(
        "cdn-trailing-slash",
        {"ENVIRONMENT": "production", "CDN_URL": "https://cdn.example.com/", **R2},
        "https://cdn.example.com",
        None,
    ),
    Config(
        "cdn-base-path",
        {
            "ENVIRONMENT": "production",
            "CDN_URL": "https://cdn.example.com/media-root/v1",
            "CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED": "true",
            **R2,
        },
        "https://cdn.example.com/media-root/v1",
        "https://cdn.example.com/media-root/v1/cdn-cgi/image/format={fmt}",
    ),
    Config(
        "cdn-port-and-slash",
        {"ENVIRONMENT": "staging", "CDN_URL": "http://cdn.example.com:8443/b/", **R2},
        "http://cdn.example.com:8443/b",
        None,
    ),
    Config(
        "minio-development",
        {**R2, "R2_ENDPOINT_URL": "http://localhost:9002"},
        "http://localhost:9002/shootify-media-dev",
        SERVICE + "/_storage/derived/{fmt}",
    ),
    Config(
        "embedded-development",
        {},
        SERVICE + "/_storage/public",
        SERVICE + "/_storage/derived/{fmt}",
    ),
]


def load_payloads() -> list[str]:
    lines = PAYLOADS_FILE.read_text("utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("# ") and line != "#"]


@dataclass
class Site:
    config: Config
    context: StorageContext
    fast: FastAPI
    routed: FastAPI


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Site]]:
    built: list[Site] = []
    with pytest.MonkeyPatch.context() as mp:
        for config in CONFIGS:
            tmp = tmp_path_factory.mktemp(config.name)
            env = {"AUTH_JWT_SECRET": "y" * 40, **config.env}
            context = make_context(mp, tmp, **env)
            built.append(Site(config, context, make_app(context), make_app(context, fast=False)))
    yield built
    for site in built:
        site.context.close()


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as loop:
        yield loop


# -- the oracle ------------------------------------------------------------------------------


def expected(target: str) -> tuple[int, str | None]:
    """(status, NFC key or None) the spec gives for ``/files/`` + ``target`` (wire form)."""
    raw_path, _, query = to_wire(target).partition(b"?")
    path = unquote(raw_path.decode("ascii"))
    params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    if {name for name, _ in params} - {"type"}:
        return 422, None
    try:
        key = validate_key(path)
    except InvalidKeyError:
        return 400, None
    if key.startswith("temp/"):
        return 404, None
    type_ = params[-1][1] if params else None
    if type_ is not None and type_ not in TYPES:
        return 422, None
    return 302, key


def check_headers(reply: Reply, what: str) -> None:
    for name, value in reply.headers:
        assert not {b"\r", b"\n"} & {bytes([c]) for c in name + value}, (what, name, value)
        assert (name, value) == (name.strip(), value.strip()), (what, name, value)
    if reply.status == 302:
        assert reply.header("x-content-type-options") == "nosniff", what


def check_location(config: Config, location: str, key: str, target: str) -> None:
    """The Location is on a configured origin, under its base path, and decodes to the key."""
    what = (config.name, target, location)
    assert location.isascii(), what
    assert location.isprintable(), what
    assert not any(c in location for c in " \t\\"), what  # browsers would reinterpret these
    parts = urlsplit(location)
    assert (parts.username, parts.password) == (None, None), what
    assert (parts.query, parts.fragment) == ("", ""), what
    bases = [config.public]
    if config.formats is not None:
        bases += [config.formats.format(fmt=fmt) for fmt in TYPES if fmt != "auto"]
    matches = [base for base in bases if location.startswith(base + "/")]
    assert len(matches) >= 1, what
    base = urlsplit(matches[-1])  # the longest (format bases extend the public one)
    assert (parts.scheme, parts.hostname, parts.port) == (
        base.scheme,
        base.hostname,
        base.port,
    ), what
    assert parts.netloc == base.netloc, what
    assert parts.path.startswith(base.path + "/"), what
    decoded = unquote(parts.path, errors="strict")
    assert decoded == unquote(base.path) + "/" + key, what
    assert posixpath.normpath(decoded) == decoded, what  # no dot segment survives decoding


async def probe(site: Site, target: str, accept: str = "image/avif,image/webp") -> None:
    status, key = expected(target)
    wire = b"/files/" + to_wire(target)
    headers = [("accept", accept), ("origin", "https://evil.example")]
    replies = []
    for app in (site.fast, site.routed):
        reply = await request(app, "GET", wire, headers=headers)
        what = f"{site.config.name} {'fast' if app is site.fast else 'routed'} {wire!r}"
        check_headers(reply, what)
        assert reply.status == status, (what, reply.status, reply.body[:300])
        if status == 302:
            locations = [v for n, v in reply.headers if n.lower() == b"location"]
            assert len(locations) == 1, what
            assert key is not None
            check_location(site.config, locations[0].decode("latin-1"), key, target)
        else:
            detail = reply.json()["detail"]
            assert isinstance(detail, str), what
            assert detail, what
            assert reply.header("location") is None, what
        assert reply.header("access-control-allow-origin") is None, what  # not our web app
        replies.append(reply)
    fast, routed = replies
    for name in ("location", "cache-control"):
        assert fast.header(name) == routed.header(name), (site.config.name, target, name)
    if status != 302:
        assert fast.json() == routed.json(), (site.config.name, target)


# -- the tests --------------------------------------------------------------------------------


def test_payload_file_has_at_least_200_entries() -> None:
    payloads = load_payloads()
    assert len(payloads) >= 200
    statuses = {expected(p)[0] for p in payloads}
    assert statuses == {302, 400, 404, 422}  # the list exercises every branch


def test_known_open_redirect_payloads(sites: list[Site], runner: asyncio.Runner) -> None:
    payloads = load_payloads()

    async def run() -> None:
        for site in sites:
            for target in payloads:
                await probe(site, target)
            # type=auto resolves from Accept: each branch of it too
            for accept in ("image/avif", "image/webp", "*/*", "\r\nX: y", ""):
                await probe(site, "media/x.png?type=auto", accept=accept)

    runner.run(run())


def test_unknown_query_parameters_are_422_with_a_json_detail(
    sites: list[Site], runner: asyncio.Runner
) -> None:
    async def run() -> None:
        for site in sites:
            for app in (site.fast, site.routed):
                reply = await request(app, "GET", b"/files/media/x.png?type=webp&next=//e.x")
                assert reply.status == 422
                assert reply.json() == {"detail": "unknown query parameters: next"}

    runner.run(run())


def test_location_checks_can_fail() -> None:
    """The oracle refuses the classic mistakes, so a passing run means something."""
    config = CONFIGS[2]  # https://cdn.example.com/media-root/v1
    key = "media/x.png"
    for bad in (
        "https://cdn.example.commedia/x.png",  # base without its slash
        "https://evil.example/media-root/v1/media/x.png",
        "https://cdn.example.com@evil.example/media-root/v1/media/x.png",
        "https://cdn.example.com/media-root/v1/../../media/x.png",
        "https://cdn.example.com/media-root/v1/media/x.png?next=//evil.example",
        "https://cdn.example.com/media-root/v1//evil.example",
        "https://cdn.example.com/media-root/v1/media/x.png\r\nX: y",
        "//evil.example/media-root/v1/media/x.png",
        "https://cdn.example.com:444/media-root/v1/media/x.png",
    ):
        with pytest.raises(AssertionError):
            check_location(config, bad, key, "self-test")
    check_location(config, "https://cdn.example.com/media-root/v1/media/x.png", key, "self-test")


_pieces = st.sampled_from(
    [
        "/", "//", "\\", "@", ":", ".", "..", "%2f", "%2F", "%5c", "%252f", "%2e", "%00",
        "%0d%0a", "%09", "%40", "%23", "%3f", "#", "?", "&", "=", "type=", "type=webp",
        "type=auto", "next=", "evil.example", "media", "x.png", "https:", "javascript:",
        "\uff0f", "\uff0e", "\u3002", "é", "e\u0301", " ", "%20", "temp/", "%ff",
    ]
)  # fmt: skip
_generated = st.lists(
    _pieces | st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=16
).map("".join) | st.text(max_size=20)


@settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(target=_generated)
def test_generated_paths(sites: list[Site], runner: asyncio.Runner, target: str) -> None:
    async def run() -> None:
        for site in sites:
            await probe(site, target)

    runner.run(run())
