"""Real image and video bytes, made with the real codecs (pyvips, PyAV), and the HTTP body
that ingests an upload."""

from __future__ import annotations

import io
import uuid
from typing import Any

import av
import pyvips


def image_bytes(
    fmt: str = "png",
    width: int = 64,
    height: int = 48,
    color: tuple[int, int, int] = (200, 100, 50),
    *,
    seed: int = 0,
) -> bytes:
    """A solid image with one pixel varied by ``seed`` (distinct seeds → distinct bytes)."""
    image = (pyvips.Image.black(width, height, bands=3) + list(color)).cast("uchar")
    if seed:
        image = image.draw_rect([seed % 256, (seed // 256) % 256, 7], 0, 0, 1, 1, fill=True)
    options = {"jpg": "[Q=90]", "webp": "[Q=90]"}.get(fmt, "")
    return bytes(image.write_to_buffer(f".{fmt}{options}"))


def animated_gif(frames: int = 3, size: int = 16) -> bytes:
    strips = [
        (pyvips.Image.black(size, size, bands=3) + [40 * i, 255 - 40 * i, 100]).cast("uchar")
        for i in range(frames)
    ]
    image = pyvips.Image.arrayjoin(strips, across=1)
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "page-height", size)
    return bytes(image.write_to_buffer(".gif"))


def mp4_bytes(width: int = 64, height: int = 48, frames: int = 20, rate: int = 10) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 10) % 255]) * plane.buffer_size)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def ingest_body(
    url: str, entity: uuid.UUID, slot: str = "cover_image", position: int | None = None
) -> dict[str, Any]:
    """``POST /api/v1/media-resources/ingest``'s JSON: the upload at ``url`` attached to a
    product's ``slot`` (a single slot when ``position`` is None)."""
    return {
        "media": {"url": url},
        "entity_type": "PRODUCT",
        "entity_id": str(entity),
        "slot": slot,
        "position": position,
    }
