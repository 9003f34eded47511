"""Deferred enrichment: the fast path trusts a plain-MD5 ETag; heal fills the rest later."""

from __future__ import annotations

import hashlib

import pytest

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MediaResource
from sartiq_storage.adapters.stores import LocalStore, MemoryStore, ObjectInfo, ObjectStore
from sartiq_storage.adapters.stores.base import SOURCE_CHANGED
from sartiq_storage.core.errors import PreconditionFailedError, UnsupportedMediaError
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.hashing import stream_digests
from sartiq_storage.services.media.heal import Healer
from sartiq_storage.services.media.service import HEADER_BYTES, MediaResourceService
from sartiq_storage.testing.media import image_bytes
from tests.support.media_service import CDN, product, upload


def _big_jpeg(seed: int) -> bytes:
    import pyvips

    noise = pyvips.Image.gaussnoise(700, 700, mean=128, sigma=50, seed=seed)
    data = bytes(noise.bandjoin([noise, noise]).cast("uchar").write_to_buffer(".jpg[Q=90]"))
    assert len(data) > HEADER_BYTES
    return data


@pytest.fixture
def fast(db: Database, mstore: ObjectStore) -> MediaResourceService:
    return MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)


def test_fast_path_then_heal(fast: MediaResourceService, mstore: ObjectStore, db: Database) -> None:
    data = _big_jpeg(1)
    resource = fast.ingest(upload(mstore, data, "big.jpg", "image/jpeg"), product()).resource
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    assert (resource.width, resource.height) == (700, 700)
    assert resource.color_profile == "sRGB"
    assert resource.dominant_color is None
    assert resource.sha256 is None
    healer = Healer(db, mstore)
    report = healer.heal(dry_run=False)
    assert report.checked == 1
    assert "dominant_color" in report.fixed[0]["fix"]
    healed = fast.get(resource.id)
    assert healed.dominant_color is not None
    assert healed.sha256 == hashlib.sha256(data).hexdigest()
    assert healer.heal(dry_run=False).fixed == []  # idempotent


def test_fast_path_still_refuses_bombs_and_spoofs(db: Database, mstore: ObjectStore) -> None:
    strict = MediaResourceService(
        db, mstore, UrlResolver(CDN), inline_enrichment=False, max_pixels=600 * 600
    )
    with pytest.raises(UnsupportedMediaError, match="pixel limit"):
        strict.ingest(upload(mstore, _big_jpeg(2), "b.jpg", "image/jpeg"), product())
    fake = b"<html>" + b"x" * (HEADER_BYTES + 10)
    with pytest.raises(UnsupportedMediaError):
        strict.ingest(upload(mstore, fake, "f.jpg", "image/jpeg"), product())
    assert list(mstore.list("media/")) == []


def test_fast_path_dedup_hit_is_confirmed_by_sha256(db: Database, mstore: ObjectStore) -> None:
    inline = MediaResourceService(db, mstore, UrlResolver(CDN))
    fast = MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)
    data = _big_jpeg(3)
    first = inline.ingest(upload(mstore, data, "a.jpg", "image/jpeg"), product())
    assert first.resource.sha256 is not None
    again = fast.ingest(upload(mstore, data, "b.jpg", "image/jpeg"), product())
    assert again.resource.id == first.resource.id


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_md5_collision_becomes_a_second_resource(db: Database, inline: bool) -> None:
    """Same content_hash, different bytes (as a collision pair would be): two resources.

    A real collision pair cannot be two images here (published pairs start with the
    colliding blocks, where an image's signature must be), so the stored row's MD5 is set to
    the next upload's: exactly what the service would see for a collision.
    """
    store = MemoryStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=inline)
    first_bytes, second_bytes = image_bytes(seed=90), image_bytes(seed=91)
    first = media.ingest(upload(store, first_bytes), product())
    forged = hashlib.md5(second_bytes).hexdigest()
    with db.session() as session:
        row = session.get(MediaResource, first.resource.id)
        assert row is not None
        row.content_hash = forged  # a "collision"
        if not inline:
            row.sha256 = None  # deferred enrichment had not hashed it yet
    second = media.ingest(upload(store, second_bytes), product())
    assert second.created
    assert second.resource.id != first.resource.id
    assert second.resource.content_hash == forged
    assert second.resource.collision_rank == 1
    assert store.get_bytes(second.resource.storage_key) == second_bytes
    assert store.get_bytes(first.resource.storage_key) == first_bytes
    # Either side of the pair, uploaded again, lands on its own resource.
    again = media.ingest(upload(store, second_bytes), product())
    assert again.resource.id == second.resource.id
    with db.session() as session:
        row = session.get(MediaResource, first.resource.id)
        assert row is not None
        assert row.sha256 == hashlib.sha256(first_bytes).hexdigest()


def test_published_md5_collision_pair_really_collides() -> None:
    """The pair the docs cite (Wang et al., 2004): one MD5, two SHA-256 values."""
    assert hashlib.md5(WANG_A).hexdigest() == hashlib.md5(WANG_B).hexdigest()
    assert WANG_A != WANG_B
    assert hashlib.sha256(WANG_A).digest() != hashlib.sha256(WANG_B).digest()


WANG_A = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab58712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e488832571415a085125e8f7cdc99fd91dbdf280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e2b487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080a80d1ec69821bcb6a8839396f9652b6ff72a70"
)
WANG_B = bytes.fromhex(
    "d131dd02c5e6eec4693d9a0698aff95c2fcab50712467eab4004583eb8fb7f89"
    "55ad340609f4b30283e4888325f1415a085125e8f7cdc99fd91dbd7280373c5b"
    "d8823e3156348f5bae6dacd436c919c6dd53e23487da03fd02396306d248cda0"
    "e99f33420f577ee8ce54b67080280d1ec69821bcb6a8839396f965ab6ff72a70"
)


@pytest.mark.parametrize("size", [0, 1, 1024 * 1024 * 3 + 5])
def test_stream_digests(tmp_path, size: int) -> None:  # type: ignore[no-untyped-def]
    store = LocalStore(tmp_path / "s")
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    store.put("k", data)
    digests = stream_digests(store, "k", "md5", "sha256")
    assert digests == {
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


class _SourceSwappedStore(MemoryStore):
    """Once ``swapped``, every pinned copy finds its source changed since it was read."""

    swapped = False

    def copy(self, source: str, destination: str, **kw: object) -> ObjectInfo:  # type: ignore[override]
        if self.swapped and kw.get("source_info") is not None:
            raise PreconditionFailedError(source, SOURCE_CHANGED)
        return super().copy(source, destination, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("swapped", [False, True], ids=["restored", "source-changed"])
def test_heal_restores_a_lost_object_only_from_the_bytes_it_hashed(
    db: Database, swapped: bool
) -> None:
    """A canonical object gone, its upload still there: heal copies it back, pinned to the
    bytes it checked. If the upload changed in between, nothing is copied and the resource is
    reported, not the whole run aborted."""
    store = _SourceSwappedStore()
    media = MediaResourceService(db, store, UrlResolver(CDN), drain_after_commit=False)
    made = media.ingest(upload(store, image_bytes(seed=91)), product())
    media.close()
    store.delete(made.resource.storage_key)
    store.swapped = swapped
    result = Healer(db, store).heal([made.resource.id], dry_run=False)
    assert store.exists(made.resource.storage_key) is not swapped
    if swapped:
        assert [u["problem"] for u in result.unfixable] == [
            f"object {made.resource.storage_key} is missing"
        ]
    else:
        assert result.fixed[0]["fix"].startswith("object restored from temp/")


class _CountingStore(LocalStore):
    """A local store that counts the reads of each key (what a store bills per request)."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.gets: dict[str, int] = {}

    def get(self, key: str, *, start: int | None = None, end: int | None = None):  # type: ignore[no-untyped-def]
        self.gets[key] = self.gets.get(key, 0) + 1
        return super().get(key, start=start, end=end)


def test_fast_path_reads_an_upload_once(db: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The metadata walk needs every byte: one GET serves the sniff, the header and the walk
    (it was a ranged GET for the header, then a second GET of everything)."""
    store = _CountingStore(tmp_path / "store")
    fast = MediaResourceService(db, store, UrlResolver(CDN), inline_enrichment=False)
    data = _big_jpeg(4)
    media = upload(store, data, "big.jpg", "image/jpeg")
    resource = fast.ingest(media, product()).resource
    fast.close()
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    assert resource.sha256 is None  # the ETag's MD5 stands: nothing was removed
    assert store.gets == {media.url.removeprefix(f"{CDN}/"): 1}  # type: ignore[union-attr]


def test_an_upload_too_big_to_read_at_once_is_sniffed_first(
    db: Database, mstore: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_READ_AT_ONCE`` the first chunks are sniffed before the rest is read: an image
    is still read whole (and walked), what is not accepted is refused."""
    from sartiq_storage.services.media import verification

    monkeypatch.setattr(verification, "_READ_AT_ONCE", 1)
    fast = MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=False)
    data = _big_jpeg(5)
    resource = fast.ingest(upload(mstore, data, "big.jpg", "image/jpeg"), product()).resource
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    commented = data[:2] + b"\xff\xfe\x00\x07hello" + data[2:]  # metadata: removed
    cleaned = fast.ingest(upload(mstore, commented, "c.jpg", "image/jpeg"), product()).resource
    with mstore.get(cleaned.storage_key) as stream:
        stored = stream.read()
    assert b"hello" not in stored
    assert cleaned.content_hash == hashlib.md5(stored).hexdigest()
    with pytest.raises(UnsupportedMediaError, match="not an accepted image"):
        fast.ingest(upload(mstore, b"<html>" * 100_000, "f.jpg", "image/jpeg"), product())
    fast.close()


def test_fast_path_reads_only_the_header_of_a_clean_avif(
    fast: MediaResourceService, mstore: ObjectStore, db: Database
) -> None:
    """The prefix of an AVIF whose EXIF item sits after the pixels in ``mdat`` (libvips'
    own harmless EXIF) is refused by libheif; the header is then read from every byte, not
    decoded for its colour (1.5 GB at 100 megapixels, issue 14)."""
    import pyvips

    noise = pyvips.Image.gaussnoise(900, 700, mean=128, sigma=60, seed=4)
    image = noise.bandjoin([noise, noise]).cast("uchar")
    data = bytes(image.heifsave_buffer(compression="av1", effort=0, Q=90))
    assert len(data) > HEADER_BYTES
    resource = fast.ingest(upload(mstore, data, "big.avif", "image/avif"), product()).resource
    assert (resource.width, resource.height) == (900, 700)
    assert resource.content_hash == hashlib.md5(data).hexdigest()
    assert mstore.get_bytes(resource.storage_key) == data  # clean: stored as uploaded
    assert resource.dominant_color is None  # no pixel was decoded
    assert resource.sha256 is None
    Healer(db, mstore).heal(dry_run=False)
    assert fast.get(resource.id).dominant_color is not None


@pytest.fixture(scope="module")
def huge_avif() -> bytes:
    """A flat 16-megapixel-and-a-bit AVIF (under a kilobyte): over the whole-decode bound,
    with GPS in its EXIF item."""
    import pyvips

    image = (pyvips.Image.black(4001, 4000, bands=3) + [20, 90, 100]).cast("uchar").copy()
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd3-GPSLatitudeRef", "N (N, ASCII, 2 bytes)")
    return bytes(image.heifsave_buffer(compression="av1", effort=0, Q=30))


@pytest.mark.parametrize("inline", [True, False], ids=["inline", "deferred"])
def test_an_avif_too_big_to_decode_is_cleaned_and_never_decoded(
    db: Database, mstore: ObjectStore, huge_avif: bytes, inline: bool
) -> None:
    """Issue 14: libheif decodes whole (+1.5 GB at 100 megapixels). Over the bound, the EXIF
    item is cut out at the byte level and the colour is left unset, at ingest and by heal,
    which does not pick the resource again on every pass."""
    from sartiq_storage.adapters import image_metadata
    from sartiq_storage.adapters.media_probe import HEIF_DECODE_PIXELS

    assert HEIF_DECODE_PIXELS < 4001 * 4000
    assert image_metadata.findings(huge_avif, "avif")  # the GPS tag
    media = MediaResourceService(db, mstore, UrlResolver(CDN), inline_enrichment=inline)
    resource = media.ingest(upload(mstore, huge_avif, "huge.avif"), product()).resource
    stored = mstore.get_bytes(resource.storage_key)
    assert image_metadata.findings(stored, "avif") == []
    assert b"GPS" not in stored
    assert len(stored) < len(huge_avif)
    assert resource.extension == "avif"  # stripped, not re-encoded as JPEG
    assert (resource.width, resource.height) == (4001, 4000)
    assert resource.dominant_color is None
    report = Healer(db, mstore).heal_incomplete()
    assert all("dominant_color" not in fix["fix"] for fix in report.fixed)
    assert report.checked == 0  # cleaned bytes are hashed at ingest: nothing else to fill
    assert media.get(resource.id).dominant_color is None


def test_the_whole_decode_bound_is_about_a_quarter_gigabyte() -> None:
    from sartiq_storage.adapters.media_probe import heif_colour_decodable

    assert heif_colour_decodable(4000, 4000)  # 16 MP: a 12-MP phone photo decodes
    assert not heif_colour_decodable(4001, 4000)
