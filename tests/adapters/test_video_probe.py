"""Video probing and poster frames from real H.264 and VP9 files, read through ranged GETs."""

from __future__ import annotations

import io

import pytest

from sartiq_storage.adapters.media_probe import (
    DecompressionBombError,
    MediaProbeError,
    poster_frame,
    probe_video,
    probe_video_file,
)
from sartiq_storage.adapters.stores import MemoryStore
from sartiq_storage.adapters.stores.ranged import READ_AHEAD, RangedReader
from sartiq_storage.testing.media import video_bytes
from tests.support.videos import image_size


@pytest.mark.parametrize(("codec", "name"), [("libx264", "h264"), ("libvpx-vp9", "vp9")])
def test_metadata_of_a_real_video(codec: str, name: str) -> None:
    data = video_bytes(codec, width=96, height=64, frames=30, rate=15)
    meta = probe_video(data)
    assert (meta.width, meta.height, meta.codec, meta.frame_rate) == (96, 64, name, 15.0)
    assert meta.duration == pytest.approx(2.0, abs=0.1)
    poster = poster_frame(io.BytesIO(data))
    assert image_size(poster) == (96, 64)


def test_a_long_video_is_probed_and_postered_from_a_small_part_of_it() -> None:
    data = video_bytes(
        "libx264", width=160, height=90, frames=10, rate=10, noise=True, repeat_to=40_000_000
    )
    store = MemoryStore()
    store.put("media/v/file.mp4", data)
    info = store.head("media/v/file.mp4")
    reader = RangedReader(store, info)
    meta = probe_video_file(reader)  # type: ignore[arg-type]
    assert (meta.width, meta.height, meta.codec) == (160, 90, "h264")
    assert meta.duration is not None
    assert meta.duration > 100
    poster_reader = RangedReader(store, info)
    poster = poster_frame(poster_reader, ".jpg[Q=80]", max_side=80)  # type: ignore[arg-type]
    assert image_size(poster) == (80, 45)
    for stats in (reader.stats, poster_reader.stats):
        assert stats.fetched < len(data) // 10  # the MP4 index sits at the end: sought, not read to
        assert stats.largest <= READ_AHEAD


def test_what_is_not_a_video_or_too_big_is_refused() -> None:
    with pytest.raises(MediaProbeError):
        probe_video(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500)
    data = video_bytes("libx264", width=64, height=48, frames=2)
    with pytest.raises(DecompressionBombError):
        poster_frame(io.BytesIO(data), max_pixels=64 * 48 - 1)
