"""The dominant colour read from a thumbnail decoded at reduced size is the full image's."""

from __future__ import annotations

import pytest

from sartiq_storage.adapters.media_probe import (
    DecompressionBombError,
    MediaProbeError,
    dominant_color,
    dominant_of,
    probe,
)
from sartiq_storage.adapters.vips import pyvips
from sartiq_storage.testing.media import image_bytes
from tests.support.photos import damaged_pixels

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
