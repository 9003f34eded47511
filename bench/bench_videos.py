"""Ingest of a big video: memory and time against a plain server-side copy of the same object.

Each case runs in a fresh child process (``python -m bench.bench_videos CASE JSON``), which
reports its RSS before the work, its peak during it and the seconds it took (the same
measurement as ``bench_memory``). The video is made once and cached under the system's
temporary folder (``sartiq-bench-videos/``): a real H.264 MP4 whose keyframes are muxed again
and again until it reaches the size (its index at the end, as a camera writes it).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bench.harness import Result, ensure_repo_on_path
from bench.harness import run_child as run_bench_child

if TYPE_CHECKING:
    from sartiq_storage.adapters.db.models import MediaResource
    from sartiq_storage.adapters.stores import ObjectStore

TITLE = "Ingest of a big video"
DESCRIPTION = """\
One ingest of a 2 GB H.264 MP4 (320×180, every frame a keyframe, the index at the end) from
`temp/`, SQLite, each case in a fresh child process: on the embedded store (local files, the
upload's ETag is the MD5 the store computed when it was written) and on moto's S3 server (the
upload made in 64 MiB parts, so its ETag `…-N` is no MD5 and ingest hashes it as a stream;
there three rounds run one after the other, each a copy and the two ingests, and the
median of each case is kept, with each round's ingest over the copy of that same round in the
notes, as moto's copy of the same object varies from 5 to 13 s with its state; each case
starts after `sync`). Ingest sniffs the first chunk of one GET, copies the object server-side to
`media/{id}/file.mp4` while it hashes the rest of that GET (keeping its last 8 MiB), then
probes the container and makes the poster frame from the sniffed head and that tail (PyAV; any
other read a ranged GET with a 1 MiB read-ahead; the notes count the GETs). On AWS S3 it
instead probes by ranged GETs, then copies, and takes the MD5 from the copy's answer (S3
computes it; so does moto, which the extra row tells it is AWS). **ours** is the ingest;
**baseline** is a plain
server-side copy of the same object (`ObjectStore.copy` with the same content type, cache
control, create-only and ETag pin as the ingest's copy) in the same run. Time rows are rates
(MB/s of video), so **ratio = copy time / ingest time**: the bar, ingest within 1.5× the copy,
is a ratio of at least 0.67. The memory rows are the peak RSS growth of each process (MB); the
bar is 128 MB for the ingest. On the embedded store the copy is a hard link (no byte moves), so
the extra row compares the ingest with a byte-for-byte copy through the store (`put` of a
`get`), what a copy costs where a link cannot be made.
"""

MB = 1_000_000
MIB = 1024 * 1024
SIZE = 2_000_000_000
QUICK_SIZE = 64 * MIB
PART = 64 * MIB
ROUNDS = 3
"""Rounds on moto, each a copy and the two ingests, one after the other: moto's copy of the
same 2 GB varies from 5 to 13 s with its state, so one pair of runs proves little."""
CACHE = Path(tempfile.gettempdir()) / "sartiq-bench-videos"


# -- the child -------------------------------------------------------------------------------


def _store(args: dict[str, str]) -> ObjectStore:
    if args["backend"] == "embedded":
        from sartiq_storage.adapters.stores.local import LocalStore

        return LocalStore(args["root"])
    from sartiq_storage.testing.moto_server import moto_store

    return moto_store(args["endpoint"], args["bucket"], flavor=args.get("flavor"))


def _warm_copy(store: ObjectStore) -> None:
    """A small copy first: connections and code paths warm, as in a running service."""
    from sartiq_storage.core.policies import IMMUTABLE

    store.put("temp/warm.bin", b"warm")
    info = store.head("temp/warm.bin")
    store.copy(
        "temp/warm.bin",
        f"media/{uuid.uuid4()}/warm.bin",
        content_type="video/mp4",
        cache_control=IMMUTABLE,
        if_absent=True,
        source_info=info,
    )


def _copy(args: dict[str, str]) -> Callable[[], str]:
    from sartiq_storage.core.policies import IMMUTABLE

    store = _store(args)
    _warm_copy(store)

    def work() -> str:
        info = store.head(args["key"])
        copied = store.copy(
            args["key"],
            f"media/{uuid.uuid4()}/copy.mp4",
            content_type="video/mp4",
            cache_control=IMMUTABLE,
            if_absent=True,
            source_info=info,
        )
        return f"copied {copied.size / MB:.0f} MB"

    return work


def _byte_copy(args: dict[str, str]) -> Callable[[], str]:
    store = _store(args)
    _warm_copy(store)

    def work() -> str:
        with store.get(args["key"]) as stream:
            put = store.put(f"media/{uuid.uuid4()}/bytes.mp4", iter(stream))
        return f"wrote {put.size / MB:.0f} MB"

    return work


def _ingest(args: dict[str, str]) -> Callable[[], str]:
    from sartiq_storage.adapters.db.engine import Database
    from sartiq_storage.adapters.db.migrate import upgrade
    from sartiq_storage.core.urls import UrlResolver
    from sartiq_storage.services.media.service import AttachTo, MediaInput, MediaResourceService
    from sartiq_storage.testing.media import video_bytes
    from sartiq_storage.testing.stores import ReadCountingStore

    db = Database.from_url(f"sqlite:///{args['db']}")
    upgrade(db)
    store = ReadCountingStore(_store(args))  # counts the GETs (on moto each reads it all)
    media = MediaResourceService(db, store, UrlResolver("https://cdn.test"))  # type: ignore[arg-type]

    def ingest(key: str) -> MediaResource:
        target = AttachTo("PRODUCT", uuid.uuid4(), "video")
        return media.ingest(MediaInput(url=f"https://cdn.test/{key}"), target).resource

    warm = f"temp/{uuid.uuid4().hex}_1_warm.mp4"  # a small ingest first, as in a running service
    store.put(warm, video_bytes("libx264", width=64, height=48, frames=4), content_type="video/mp4")
    ingest(warm)

    def work() -> str:
        store.log.gets.clear()
        resource = ingest(args["key"])
        media.close()
        ranged = sum(1 for _, start, end in store.log.gets if (start, end) != (None, None))
        whole = len(store.log.gets) - ranged
        return (
            f"{resource.width}×{resource.height}, {resource.duration or 0:.0f} s, "
            f"md5 {resource.content_hash[:8]}…, GETs: {whole} whole, {ranged} ranged"
        )

    return work


CASES = {"copy": _copy, "byte-copy": _byte_copy, "ingest": _ingest}


def child(case: str, args: dict[str, str]) -> dict[str, object]:
    ensure_repo_on_path()
    from bench.bench_memory import _measure

    return _measure(CASES[case](args))


# -- the parent ------------------------------------------------------------------------------


def cached_video(size: int) -> Path:
    """The benchmark's video of at least ``size`` bytes, made once and kept for later runs."""
    from sartiq_storage.testing.media import write_video

    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"clip-{size}.mp4"
    if not path.exists():
        partial = path.with_suffix(".part")
        with partial.open("wb") as out:
            write_video(
                out,
                codec="libx264",
                width=320,
                height=180,
                frames=48,
                rate=24,
                noise=True,
                repeat_to=size,
            )
        partial.rename(path)
    return path


def run_child(case: str, args: dict[str, str]) -> dict[str, object]:
    # moto keeps each object in a temporary file: a 2 GB copy leaves 2 GB of dirty pages,
    # and the next case's writes would wait on their writeback. Each case starts flushed.
    os.sync()
    return run_bench_child("bench.bench_videos", case, json.dumps(args))


def _embedded(video: Path, folder: Path) -> dict[str, dict[str, object]]:
    from sartiq_storage.adapters.stores.local import LocalStore

    root = folder / "store"
    key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
    with video.open("rb") as body:
        LocalStore(root).put(key, body, content_type="video/mp4")
    args = {"backend": "embedded", "root": str(root), "key": key, "db": str(folder / "e.db")}
    return {case: run_child(case, args) for case in ("copy", "byte-copy", "ingest")}


def _moto(video: Path, folder: Path) -> dict[str, dict[str, object]]:
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config

    from sartiq_storage.testing.moto_server import (
        TEST_KEY_ID,
        TEST_SECRET,
        make_bucket,
        moto_server,
        moto_store,
    )

    with moto_server() as endpoint:
        bucket = make_bucket(endpoint)
        key = f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4"
        config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART)
        client = boto3.client(  # moto assembles 2 GB slowly: more than boto3's 60 s
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=TEST_KEY_ID,
            aws_secret_access_key=TEST_SECRET,
            region_name="us-east-1",
            config=Config(read_timeout=900, retries={"max_attempts": 1}),
        )
        client.upload_file(
            str(video), bucket, key, ExtraArgs={"ContentType": "video/mp4"}, Config=config
        )
        # More uploads in parts (ETag …-N), made by multipart copies: an ingest deletes its
        # source, and the last one takes the first upload.
        copier = moto_store(
            endpoint, bucket, read_timeout=900, multipart_copy_threshold=PART, copy_part_size=PART
        )
        sources = [f"temp/{uuid.uuid4().hex}_1706000000_clip.mp4" for _ in range(2 * ROUNDS - 1)]
        for source in sources:
            copier.copy(key, source, content_type="video/mp4")
        sources.append(key)
        base = {"backend": "moto", "endpoint": endpoint, "bucket": bucket}
        aws = {**base, "flavor": "aws"}  # the MD5 from the copy, as on AWS S3
        runs: dict[str, list[dict[str, object]]] = {}
        for n in range(ROUNDS):  # each ingest beside its own copy, with a database of its own
            rounds = [
                ("copy", {**base, "key": key}),
                ("ingest", {**base, "key": sources[2 * n], "db": str(folder / f"m{n}.db")}),
                ("ingest-aws", {**aws, "key": sources[2 * n + 1], "db": str(folder / f"a{n}.db")}),
            ]
            for case, args in rounds:
                runs.setdefault(case, []).append(run_child(case.removesuffix("-aws"), args))
                # What the case made goes (moto then drops its file): a page cache that only
                # grew would reach memory the VM never touched, slower from one case to the next.
                made = [o.key for prefix in ("media/", "derived/") for o in copier.list(prefix)]
                copier.delete_many(made)
        return {case: _median(results) for case, results in runs.items()}


def _median(results: list[dict[str, object]]) -> dict[str, object]:
    """The run of median time among a case's runs, with the highest peak of them all and every
    time (in round order: ``round_ratios`` pairs each ingest with the copy of its round)."""
    ordered = sorted(results, key=lambda result: float(result["seconds"]))  # type: ignore[arg-type]
    median = dict(ordered[(len(ordered) - 1) // 2])
    median["peak_mb"] = max(float(result["peak_mb"]) for result in results)  # type: ignore[arg-type]
    median["all_seconds"] = [float(result["seconds"]) for result in results]  # type: ignore[arg-type]
    return median


def _round_ratios(ingest: dict[str, object], copy: dict[str, object]) -> str:
    """Each round's ingest time over the copy's time in that same round."""
    ours, base = ingest.get("all_seconds"), copy.get("all_seconds")
    if not isinstance(ours, list) or not isinstance(base, list) or len(ours) < 2:
        return ""
    ratios = [o / b for o, b in zip(ours, base, strict=True)]
    return f"; round by round {', '.join(f'{r:.2f}' for r in ratios)}× the copy's"


def _note(result: dict[str, object]) -> str:
    times = result.get("all_seconds")
    seconds = f"{float(result['seconds']):.2f} s"  # type: ignore[arg-type]
    if isinstance(times, list) and len(times) > 1:
        seconds = f"median of {', '.join(f'{t:.2f}' for t in times)} s"
    return f"{result['outcome']}; {seconds}, peak {float(result['peak_mb']):+.0f} MB"  # type: ignore[arg-type]


def _versus(
    label: str, megabytes: float, ours_s: float, base_s: float, note: str, base: str
) -> Result:
    """A time row as rates (MB/s of video): ratio = the baseline's time / ours."""
    return Result(
        TITLE,
        label,
        megabytes / ours_s,
        megabytes / base_s,
        "MB/s",
        f"{note}; ingest time = {ours_s / base_s:.2f}× {base}",
    )


def run(quick: bool) -> list[Result]:
    size = QUICK_SIZE if quick else SIZE
    video = cached_video(size)
    megabytes = video.stat().st_size / MB
    rows: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-videos-") as tmp:
        folder = Path(tmp)
        for backend, measure in (("embedded store", _embedded), ("moto", _moto)):
            got = measure(video, folder)
            ingest, copy = got["ingest"], got["copy"]
            ingest_s, copy_s = float(ingest["seconds"]), float(copy["seconds"])  # type: ignore[arg-type]
            label = f"{backend}: ingest of a {megabytes / 1000:.1f} GB video vs a server-side copy"
            note = f"ingest: {_note(ingest)}; copy: {_note(copy)}{_round_ratios(ingest, copy)}"
            rows.append(_versus(label, megabytes, ingest_s, copy_s, note, "the copy's"))
            if "ingest-aws" in got:
                aws_s = float(got["ingest-aws"]["seconds"])  # type: ignore[arg-type]
                label = f"{backend} told it is AWS (the MD5 from the copy) vs a server-side copy"
                aws_rounds = _round_ratios(got["ingest-aws"], copy)
                note = f"ingest: {_note(got['ingest-aws'])}; copy as above{aws_rounds}"
                rows.append(_versus(label, megabytes, aws_s, copy_s, note, "the copy's"))
            if "byte-copy" in got:
                byte_s = float(got["byte-copy"]["seconds"])  # type: ignore[arg-type]
                label = f"{backend}: ingest vs a byte-for-byte copy (put of a get)"
                note = f"byte copy: {_note(got['byte-copy'])}"
                rows.append(_versus(label, megabytes, ingest_s, byte_s, note, "the byte copy's"))
            rows.append(
                Result(
                    TITLE,
                    f"{backend}: peak RSS growth of the ingest (bar: 128 MB)",
                    float(ingest["peak_mb"]),  # type: ignore[arg-type]
                    float(copy["peak_mb"]),  # type: ignore[arg-type]
                    "MB peak",
                    f"ours: the ingest ({_note(ingest)}); baseline: the copy ({_note(copy)})",
                )
            )
    return rows


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], json.loads(sys.argv[2]))))
