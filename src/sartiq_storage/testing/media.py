"""Real image and video bytes, made with the real codecs (pyvips, PyAV), and the HTTP body
that ingests an upload."""

from __future__ import annotations

import io
import os
import uuid
from typing import Any, BinaryIO

import av
import av.video.stream
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


VIDEO_FORMATS = {"libx264": "mp4", "libvpx-vp9": "webm", "mpeg4": "mp4"}
"""The encoders :func:`write_video` uses and the container each goes in."""


def _frame(width: int, height: int, index: int, noise: bool) -> av.VideoFrame:
    """A frame whose colour moves with ``index`` (and random pixels with ``noise``, so that
    each frame weighs what a real one does)."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for number, plane in enumerate(frame.planes):
        if noise:
            plane.update(os.urandom(plane.buffer_size))
        else:
            plane.update(bytes([(index * 10 + number * 60) % 255]) * plane.buffer_size)
    return frame


def write_video(
    out: str | os.PathLike[str] | BinaryIO,
    *,
    codec: str = "libx264",
    width: int = 64,
    height: int = 48,
    frames: int = 20,
    rate: int = 10,
    noise: bool = False,
    repeat_to: int = 0,
) -> None:
    """A real video (H.264 or MPEG-4 in MP4, VP9 in WebM) written to ``out``.

    Every frame is a keyframe. ``repeat_to``: the encoded frames are muxed again and again,
    their timestamps running on, until the file reaches that many bytes: a long video (two
    gigabytes for a benchmark) made in the time it takes to write it, not to encode it.
    """
    target = out if not isinstance(out, str | os.PathLike) else os.fspath(out)
    with av.open(target, mode="w", format=VIDEO_FORMATS[codec]) as container:
        stream = container.add_stream(codec, rate=rate)
        assert isinstance(stream, av.video.stream.VideoStream)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.gop_size = 1
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        packets: list[tuple[bytes, int]] = []
        written = 0

        def mux(packet: Any) -> None:
            nonlocal written
            if packet.size:
                packets.append((bytes(packet), packet.pts or 0))
                written += packet.size
            container.mux(packet)

        for i in range(frames):
            frame = _frame(width, height, i, noise)
            frame.pts = i
            for packet in stream.encode(frame):
                mux(packet)
        for packet in stream.encode():
            mux(packet)
        loop = 1
        while repeat_to and written < repeat_to and packets:
            for data, pts in packets:
                packet = av.Packet(data)
                packet.stream = stream
                assert stream.time_base is not None
                packet.time_base = stream.time_base
                packet.pts = packet.dts = pts + loop * _pts_span(stream, frames, rate)
                packet.is_keyframe = True
                container.mux(packet)
                written += len(data)
            loop += 1


def _pts_span(stream: av.video.stream.VideoStream, frames: int, rate: int) -> int:
    """How far the timestamps of ``frames`` frames at ``rate`` run, in the stream's time base."""
    base = stream.time_base
    assert base is not None
    return round(frames / rate / base)


def video_bytes(codec: str = "libx264", **options: Any) -> bytes:
    """:func:`write_video` into memory."""
    buffer = io.BytesIO()
    write_video(buffer, codec=codec, **options)
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
