"""A phone photo as phones write them: EXIF orientation and a GPS location, made with pyvips
(the privacy rewrite must drop the location and store the pixels upright)."""

from __future__ import annotations

import pyvips

GPS = {
    "exif-ifd3-GPSLatitudeRef": "N (N, ASCII, 2 components, 2 bytes)",
    "exif-ifd3-GPSLatitude": "48/1 51/1 2964/100 (48, 51, 29.64, Rational, 3 components, 24 bytes)",
    "exif-ifd3-GPSLongitudeRef": "E (E, ASCII, 2 components, 2 bytes)",
    "exif-ifd3-GPSLongitude": "2/1 17/1 4020/100 (2, 17, 40.2, Rational, 3 components, 24 bytes)",
}


def phone_photo(fmt: str = ".jpg", *, orientation: int = 6, gps: bool = True) -> bytes:
    """80×40 as stored (red left half, blue right half), tagged to be shown rotated."""
    left = (pyvips.Image.black(40, 40, bands=3) + [220, 20, 20]).cast("uchar")
    right = (pyvips.Image.black(40, 40, bands=3) + [20, 20, 220]).cast("uchar")
    image = left.join(right, "horizontal").copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    if gps:
        for name, value in GPS.items():
            image.set_type(pyvips.GValue.gstr_type, name, value)
    return bytes(image.write_to_buffer(fmt))


def damaged_pixels(jpeg: bytes) -> bytes:
    """``jpeg`` with its entropy-coded data overwritten: the header and the metadata walk
    find nothing wrong, only a decode does."""
    data = bytearray(jpeg)
    for i in range(jpeg.index(b"\xff\xda") + 20, len(data) - 2):
        data[i] = 0xFF if i % 2 else 0x00
    return bytes(data)
