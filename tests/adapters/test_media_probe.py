"""The dominant colour read from a thumbnail decoded at reduced size is the full image's."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sartiq_storage.adapters.media_probe import (
    DecompressionBombError,
    MediaProbeError,
    dominant_color,
    dominant_of,
    probe,
    probe_image_header,
    probe_image_header_plan,
)
from sartiq_storage.adapters.vips import pyvips
from sartiq_storage.testing.media import image_bytes
from tests.support.photos import damaged_pixels, phone_photo

OPTIONS = {"jpg": "[Q=90]", "webp": "[Q=90]", "avif": "[Q=70]"}


def _two_tones(fmt: str) -> bytes:
    """Two thirds dark teal, a third orange: big enough that JPEG decodes at 1/8 scale."""
    left = pyvips.Image.black(440, 480, bands=3) + [20, 90, 100]
    right = pyvips.Image.black(200, 480, bands=3) + [230, 120, 30]
    image = left.join(right, "horizontal").cast("uchar")
    return bytes(image.write_to_buffer(f".{fmt}{OPTIONS.get(fmt, '')}"))


def _distance(a: str, b: str) -> float:
    x, y = bytes.fromhex(a[1:]), bytes.fromhex(b[1:])
    return float(sum((p - q) ** 2 for p, q in zip(x, y, strict=True)) ** 0.5)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tiff", "avif"])
@pytest.mark.parametrize("maker", ["solid", "two tones"])
def test_the_thumbnail_colour_is_the_full_decode_colour(fmt: str, maker: str) -> None:
    try:
        data = image_bytes(fmt, 640, 480) if maker == "solid" else _two_tones(fmt)
    except pyvips.Error:
        pytest.skip(f"this libvips cannot write {fmt}")
    full = dominant_of(pyvips.Image.new_from_buffer(data, ""))
    shrunk = probe(data, "IMAGE").dominant_color
    assert shrunk is not None
    assert _distance(shrunk, full) <= 6, (shrunk, full)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tiff", "gif", "avif"])
def test_the_decode_ingest_runs_alone_gives_the_probes_colour(fmt: str) -> None:
    """Inline enrichment reads the header first, then decodes the colour on a thread of its
    own (``dominant_color``): the same colour as the one-call probe, every format."""
    try:
        data = _two_tones(fmt)
    except pyvips.Error:
        pytest.skip(f"this libvips cannot write {fmt}")
    assert dominant_color(data) == probe(data, "IMAGE").dominant_color is not None
    with pytest.raises(DecompressionBombError):
        dominant_color(data, max_pixels=640 * 480 - 1)


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tiff", "gif", "avif"])
def test_the_decode_planned_from_the_checked_header_gives_the_same_colour(fmt: str) -> None:
    """Ingest hands the colour decode the plan of its own header read (loader, size, bands):
    the decode reads no header again and finds the colour it finds reading one itself."""
    try:
        data = _two_tones(fmt)
    except pyvips.Error:
        pytest.skip(f"this libvips cannot write {fmt}")
    metadata, plan = probe_image_header_plan(data, extension=fmt if fmt != "tiff" else "tiff")
    assert (metadata.width, metadata.height) == (640, 480)
    assert dominant_color(data, plan=plan) == dominant_color(data) is not None


def _reference_dominant(raw: bytes) -> str:
    """The definition, pixel by pixel: the most common bucket (16 levels a channel; the one
    seen first among equals), its pixels averaged."""
    buckets = [tuple(v >> 4 for v in raw[i : i + 3]) for i in range(0, len(raw), 3)]
    best = Counter(buckets).most_common(1)[0][0]
    chosen = [i for i, bucket in enumerate(buckets) if bucket == best]
    r, g, b = (round(sum(raw[3 * i + c] for i in chosen) / len(chosen)) for c in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def test_the_dominant_colour_is_its_definition_on_random_pixels() -> None:
    """Counted and averaged in C, ties included (few levels make many equal buckets)."""
    rng = random.Random(5)
    for _ in range(300):
        width, height, levels = rng.randint(1, 24), rng.randint(1, 24), rng.choice([2, 3, 256])
        raw = bytes(
            rng.randrange(levels) * (256 // levels) + rng.randrange(256 // levels)
            for _ in range(width * height * 3)
        )
        image = pyvips.Image.new_from_memory(raw, width, height, 3, "uchar")
        assert dominant_of(image.copy(interpretation="srgb")) == _reference_dominant(raw)


def test_pixels_that_do_not_decode_are_an_error_not_a_colour() -> None:
    with pytest.raises(MediaProbeError, match="damaged"):
        dominant_color(damaged_pixels(image_bytes("jpg", 256, 256, seed=3)))


@pytest.mark.parametrize("bands", [3, 1])
def test_a_big_jpeg_decoded_at_an_eighth_and_box_shrunk_keeps_its_colour(bands: int) -> None:
    image = pyvips.Image.black(1000, 900, bands=bands) + [200, 60, 90][:bands]
    image = image.join(
        pyvips.Image.black(400, 900, bands=bands) + [10, 10, 10][:bands], "horizontal"
    )
    data = bytes(image.cast("uchar").write_to_buffer(".jpg[Q=85]"))
    full = dominant_of(pyvips.Image.new_from_buffer(data, ""))
    shrunk = probe(data, "IMAGE").dominant_color
    assert shrunk is not None
    assert _distance(shrunk, full) <= 6, (shrunk, full)


@pytest.mark.parametrize("bands", [1, 2, 3, 4])
def test_a_png_box_shrunk_from_its_sequential_decode_keeps_its_colour(bands: int) -> None:
    """PNG has no reduced decode: its colour comes from a box shrink of the whole decode
    (grey, grey + alpha, RGB, RGBA; transparency counts as white, as ``thumbnail``'s did)."""
    colour = [200, 60, 90, 255][:bands] if bands > 2 else [170, 255][:bands]
    image = pyvips.Image.black(900, 700, bands=bands) + colour
    if bands in (2, 4):  # a transparent band down the right: white once flattened
        clear = pyvips.Image.black(300, 700, bands=bands)
        image = image.insert(clear, 600, 0)
    data = bytes(image.cast("uchar").write_to_buffer(".png"))
    full = dominant_of(pyvips.Image.new_from_buffer(data, ""))
    thumbnail = dominant_of(pyvips.Image.thumbnail_buffer(data, 32, height=32))
    shrunk = probe(data, "IMAGE").dominant_color
    assert shrunk is not None
    assert _distance(shrunk, full) <= 6, (shrunk, full)
    assert _distance(shrunk, thumbnail) <= 6, (shrunk, thumbnail)


def test_a_16_bit_png_keeps_its_colour() -> None:
    image = (pyvips.Image.black(300, 200, bands=3) + [50000, 12000, 30000]).cast("ushort")
    data = bytes(image.copy(interpretation="rgb16").write_to_buffer(".png"))
    assert probe(data, "IMAGE").dominant_color == dominant_of(
        pyvips.Image.thumbnail_buffer(data, 32, height=32)
    )


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "avif"])
def test_the_header_tells_a_location_from_exif_and_no_location_without(fmt: str) -> None:
    """The header read walks every field name only when the image carries EXIF (libvips
    names its GPS tags from that blob); either way the location is told."""
    located = probe_image_header(phone_photo(f".{fmt}", orientation=1), extension=fmt)
    assert located.has_location
    plain = probe_image_header(phone_photo(f".{fmt}", orientation=1, gps=False), extension=fmt)
    assert not plain.has_location
    rotated = probe_image_header(phone_photo(f".{fmt}", gps=False), extension=fmt)
    assert (rotated.width, rotated.height) == (40, 80)  # upright (libheif turns AVIF itself)
