"""Keys: no input escapes the storage root, and nothing but ``InvalidKeyError`` ever escapes.

Every run: the fixed traversal corpus (on ``validate_key``, the parsers, the local store and
every HTTP route that takes a key), the NFD/NFC twins, 1,000 hypothesis examples (derandomized)
and 20,000 inputs from a seeded generator, all through the oracle in ``oracle.py``. The
1,000,000-input atheris run is ``./run fuzz keys`` (``docs/reliability.md``).
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sartiq_storage.adapters.stores import LocalStore, MemoryStore, S3Store
from sartiq_storage.core.errors import InvalidKeyError
from sartiq_storage.core.keys import parse_key
from sartiq_storage.core.validation import validate_key, validate_prefix
from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import image_bytes
from tests.hardening.corpus import TOKENS, TRAVERSAL, TWINS, VALID
from tests.hardening.keygen import Generator
from tests.hardening.oracle import KeyFinding, KeyOracle
from tests.support.asgi import Reply, bearer, make_app, make_context, request, to_wire

SEEDED_INPUTS = 20_000
HYPOTHESIS_EXAMPLES = 1_000
SEED = 20_260_801


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> KeyOracle:
    return KeyOracle(tmp_path_factory.mktemp("oracle") / "store")


# -- the fixed corpus -----------------------------------------------------------------------


@pytest.mark.parametrize("payload", TRAVERSAL, ids=lambda p: ascii(p)[:40])
def test_traversal_payload_is_refused_everywhere(
    payload: str, oracle: KeyOracle, tmp_path: Path
) -> None:
    with pytest.raises(InvalidKeyError) as refused:
        validate_key(payload)
    assert refused.value.reason
    with pytest.raises(InvalidKeyError):
        parse_key(payload)
    with pytest.raises(InvalidKeyError):
        oracle.store._path(payload)
    for store in (LocalStore(tmp_path / "store"), MemoryStore()):
        with pytest.raises(InvalidKeyError):
            store.put(payload, b"x")
        with pytest.raises(InvalidKeyError):
            store.head(payload)
    oracle.check(payload)  # and every other entry point holds its properties


@pytest.mark.parametrize("key", VALID, ids=lambda p: ascii(p)[:40])
def test_valid_keys_are_accepted_and_stay_inside_the_root(
    key: str, oracle: KeyOracle, tmp_path: Path
) -> None:
    assert validate_key(key) == unicodedata.normalize("NFC", key)
    oracle.check(key)
    store = LocalStore(tmp_path / "store")
    if any(len(seg.encode()) > 254 for seg in key.split("/")):
        with pytest.raises(InvalidKeyError, match="local disk limit"):
            store.put(key, b"x")
        return
    store.put(key, b"payload")
    assert store.get_bytes(key) == b"payload"
    assert [info.key for info in store.list("")] == [validate_key(key)]
    outside = {p for p in tmp_path.rglob("*") if not p.is_relative_to(tmp_path / "store")}
    assert outside == set()
    store.delete(key)
    assert not store.exists(key)


@pytest.mark.parametrize(("nfd", "nfc"), TWINS, ids=lambda p: ascii(p)[:30])
def test_nfd_and_nfc_twins_are_one_key(nfd: str, nfc: str, tmp_path: Path) -> None:
    assert nfd != nfc
    assert validate_key(nfd) == validate_key(nfc) == nfc
    assert validate_prefix(nfd) == nfc
    assert parse_key(nfd) == parse_key(nfc)
    for store in (LocalStore(tmp_path / "store"), MemoryStore()):
        store.put(nfd, b"first")
        store.put(nfc, b"second")  # the same object, as on R2: overwritten, not a twin
        assert store.get_bytes(nfd) == b"second"
        assert [info.key for info in store.list("")] == [nfc]


def test_twins_are_one_object_on_s3_too(s3_store: S3Store) -> None:
    """S3 (and MinIO, and moto) store byte-different names apart; R2 folds them to NFC. We
    send NFC everywhere, so the embedded default, MinIO and production hold the same objects."""
    for nfd, nfc in TWINS[:3]:
        s3_store.put(nfd, b"first")
        s3_store.put(nfc, b"second")
        assert s3_store.get_bytes(nfd) == b"second"
    assert [info.key for info in s3_store.list("")] == sorted(nfc for _, nfc in TWINS[:3])


def test_the_limit_counts_bytes_after_normalisation() -> None:
    fits = "media/" + "é" * 509  # 1,024 bytes in NFC, 1,533 in NFD
    assert len(fits.encode()) == 1024
    assert validate_key(unicodedata.normalize("NFD", fits)) == fits
    with pytest.raises(InvalidKeyError, match="1024 bytes"):
        validate_key(fits + "a")
    with pytest.raises(InvalidKeyError, match="1024 bytes"):
        validate_key("a" * 10_000_000)  # refused before any per-character work


def test_printable_fast_path_agrees_with_the_per_character_rules() -> None:
    """``_check_unicode`` skips its loop for printable text: no printable code point may be one
    the loop refuses (controls, surrogates, bidi/zero-width, unassigned, non-characters)."""
    from sartiq_storage.core import validation

    def refused(cp: int) -> bool:
        ch = chr(cp)
        return (
            unicodedata.category(ch) in ("Cc", "Cs", "Cn")
            or ch in validation._INVISIBLE
            or 0xFDD0 <= cp <= 0xFDEF
            or (cp & 0xFFFE) == 0xFFFE
        )

    escaped = [hex(cp) for cp in range(0x110000) if chr(cp).isprintable() and refused(cp)]
    assert escaped == []


# -- generated inputs -----------------------------------------------------------------------

_odd = st.characters(exclude_categories=())  # every code point, lone surrogates included
hostile = st.lists(st.sampled_from(TOKENS + TRAVERSAL + VALID) | _odd, max_size=12).map(
    "".join
) | st.text(alphabet=_odd, max_size=40)


@settings(
    max_examples=HYPOTHESIS_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(key=hostile)
def test_hypothesis_inputs_hold_the_oracle(oracle: KeyOracle, key: str) -> None:
    oracle.check(key)


def test_seeded_inputs_hold_the_oracle(oracle: KeyOracle) -> None:
    accepted, refused = oracle.accepted, oracle.refused
    findings: list[str] = []
    for key in Generator(SEED).take(SEEDED_INPUTS):
        try:
            oracle.check(key)
        except KeyFinding as finding:
            findings.append(str(finding))
    assert findings == []
    # The generator must exercise both sides of the gate, or the oracle proves little.
    assert oracle.accepted - accepted > SEEDED_INPUTS // 10
    assert oracle.refused - refused > SEEDED_INPUTS // 2


def test_the_oracle_catches_a_broken_validator(
    oracle: KeyOracle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If validation let '..' through, the oracle (not only the store's own check) says so."""
    from sartiq_storage.core import validation

    monkeypatch.setattr(validation, "_check_segments", lambda *args, **kwargs: None)
    assert validate_key("media/../../etc/passwd")  # the gate is broken now
    with pytest.raises(KeyFinding, match="bad segment"):
        oracle.check("media/../../etc/passwd")


# -- the HTTP routes that take a key --------------------------------------------------------

SECRET = b"TOPSECRET-outside-the-root"
# Request targets as they arrive on the wire: literal, encoded and double-encoded forms.
WIRE_EXTRA = [
    "..",
    "../x",
    "../../secret.txt",
    "..%2fx",
    "..%2F..%2Fsecret.txt",
    "%2e%2e/x",
    "%2e%2e%2f%2e%2e%2fsecret.txt",
    "%252e%252e%252fsecret.txt",
    "..%5c..%5csecret.txt",
    "..\\..\\secret.txt",
    "%00",
    "a%00b",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "C:%5cx",
    "%5c%5chost%5cshare",
    "x.",
    "x%20",
    "x%2e",
    "%ef%bc%8e%ef%bc%8e/x",
    "%e2%80%aex",
    "%c0%ae%c0%ae/x",
    "%ff%fe",
    "media/link",  # a symlink planted inside objects/, pointing out of the root
]


def _wire_targets() -> list[str]:
    encoded = [quote(p, safe="/", errors="surrogatepass") for p in TRAVERSAL + VALID]
    return [*encoded, *WIRE_EXTRA]


def _routes(context: StorageContext, path: str) -> list[tuple[str, str, list[tuple[str, str]]]]:
    auth = [bearer(context)]
    return [
        ("GET", f"/files/{path}", []),
        ("GET", f"/files/{path}?type=webp", []),
        ("GET", f"/_storage/public/{path}", []),
        ("HEAD", f"/_storage/public/{path}", []),
        ("GET", f"/_storage/objects/{path}?expires=9999999999&sig=00", []),
        ("PUT", f"/_storage/objects/{path}?expires=9999999999&sig=00", []),
        ("GET", f"/_storage/derived/webp/{path}", []),
        ("GET", f"/api/v1/storage/images/{path}", auth),
        ("HEAD", f"/api/v1/storage/images/{path}", auth),
        ("DELETE", f"/api/v1/storage/images/{path}", auth),
    ]


def _no_leak(reply: Reply, what: str) -> None:
    assert reply.status < 500, (what, reply.status, reply.body[:300])
    assert SECRET not in reply.body, what
    if reply.status >= 400 and reply.body:
        assert reply.json()["detail"], what


def test_http_routes_refuse_every_traversal_payload(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    context = make_context(monkeypatch, tmp_path)
    app = make_app(context)
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "data" / "secret.txt").write_bytes(SECRET)
    objects: Path = context.store.objects  # type: ignore[attr-defined]
    (objects / "media").mkdir(parents=True)
    os.symlink(tmp_path / "secret.txt", objects / "media" / "link.")
    before = set(tmp_path.rglob("*"))
    png = image_bytes("PNG")

    async def run() -> list[tuple[str, str, Reply]]:
        replies = []
        for target in _wire_targets():
            decoded_ok = _valid(target)
            for method, url, headers in _routes(context, target):
                reply = await request(app, method, to_wire(url), headers=headers)
                replies.append((method, url, reply))
                if not decoded_ok:
                    assert reply.status == 400, (method, url, reply.status, reply.body[:200])
                _no_leak(reply, f"{method} {url}")
            # The one write route with a body: a real image, so only the key can refuse it.
            boundary = "hardening"
            body = (
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"'
                    f"\r\nContent-Type: image/png\r\n\r\n"
                ).encode()
                + png
                + f"\r\n--{boundary}--\r\n".encode()
            )
            post = await request(
                app,
                "POST",
                to_wire(f"/api/v1/storage/images/{target}"),
                headers=[
                    bearer(context),
                    ("content-type", f"multipart/form-data; boundary={boundary}"),
                ],
                body=body,
            )
            if not decoded_ok:
                assert post.status == 400, (target, post.status, post.body[:200])
            _no_leak(post, f"POST {target}")
        return replies

    try:
        replies = asyncio.run(run())
    finally:
        context.close()
    assert len(replies) >= 10 * len(TRAVERSAL)
    link = [r for m, u, r in replies if u == "/_storage/public/media/link" and m == "GET"]
    assert link
    assert link[0].status == 400  # the planted symlink is refused, not followed
    created = set(tmp_path.rglob("*")) - before
    assert all(p.is_relative_to(tmp_path / "data") for p in created), sorted(created)[:5]
    stored = [p for p in objects.rglob("*") if p.is_file() and not p.is_symlink()]
    assert len(stored) >= len(VALID) // 2  # valid targets were written: the check is not empty
    for path in stored:
        key = str(path.relative_to(objects))
        assert key.endswith("."), key
        assert validate_key(key[:-1]) == key[:-1], key


def _valid(target: str) -> bool:
    try:
        validate_key(unquote(target))
    except InvalidKeyError:
        return False
    return True
