"""Media ingestion throughput, and streamed MD5, each against its plain baseline."""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import os
import random
import shutil
import statistics
import struct
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyvips

from bench.harness import MB, Result, ensure_repo_on_path
from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.migrate import upgrade
from sartiq_storage.adapters.stores import LocalStore, ObjectStore
from sartiq_storage.core.urls import UrlResolver
from sartiq_storage.services.media.hashing import stream_digests
from sartiq_storage.services.media.service import (
    AttachTo,
    MediaInput,
    MediaResourceService,
)

TITLE = "Media ingestion"
DESCRIPTION = """\
**Ingest throughput**: objects of 50 KB to 5 MB (noise JPEGs, so they do not compress;
each made distinct by the pixel density in a JFIF segment, which is no metadata),
10 % of them byte-identical to an earlier one (dedup hits), ingested with
`MediaResourceService` (one GET of the whole upload, sniff, read the header's metadata with
pyvips, walk every byte for metadata (`adapters/image_metadata/`), look up by MD5,
create-only copy to `media/{id}/file.jpg` pinned to the ETag read, confirmed, one SQLite
transaction with the resource, attachment, ingestion record and outbox row, then the
post-commit delete of the upload), one `ingest` call per object, or `ingest_all` in batches
(one hash lookup, multi-row inserts in one transaction and one batch delete per batch).
A further row gives each upload a JPEG comment too: metadata, so each is cleaned (walked,
stripped, walked again, hashed) and the new bytes written instead of copied.
Baseline: a raw server-side copy loop over the same objects on the same store in the same
run (`shutil.copyfile` + fsync + rename on local disk; boto3 `copy_object` on S3). The two
sides alternate in rounds of 50 objects after an untimed warm-up round, and each side's
figure is its median round (the notes give the spread of the round-by-round ratio and the
ratio over the whole run). The upload itself (the browser's PUT) is outside both timings.
Target: ratio ≥ 0.8. On moto, a further row times an ingest's own requests (the GET and
the copy) as plain boto3 calls against the copy alone: the ceiling of a sequential
ratio on that server.

**Inline against deferred enrichment, per format**: the same noise uploads (JPEG as above;
RGB PNGs of 50 KB to 2.5 MB, each made distinct by one pixel) ingested one `ingest` call
at a time by two services, inline enrichment on and off, and the dominant-colour decode
alone (`dominant_color`, as the service calls it) on the same bytes, the three taking turns
in rounds of 25; the baseline is deferred enrichment. Inline enrichment decodes the colour
on a thread of its own while the upload is hashed, looked up and copied, and waits for it
before recording. The notes split inline's extra time per object (the decode alone, SHA-256),
give CPU time per object beside wall time (a busy neighbour on a shared machine inflates
wall time, not CPU time), and the floor of an ingest that decodes in series: deferred's time
plus the decode alone. Target: ratio ≥ 0.6.

**Streamed MD5**: MD5 of an object streamed from the store chunk by chunk, against
`hashlib.md5` over the same bytes already in memory. Target: ratio ≥ 0.9.
"""

SIZES = [50_000, 200_000, 1_000_000, 2_500_000, 5_000_000]


def _noise_jpeg(target_bytes: int, seed: int) -> bytes:
    """A JPEG of about ``target_bytes``: noise does not compress, so pixels ≈ bytes / 1.5."""
    side = max(64, int((target_bytes / 1.6) ** 0.5))
    image = pyvips.Image.gaussnoise(side, side, mean=128, sigma=60, seed=seed)
    image = image.bandjoin([image, image]).cast("uchar")
    return bytes(image.write_to_buffer(".jpg[Q=85]"))


def _jfif(i: int) -> bytes:
    """A JFIF APP0 segment whose pixel density encodes ``i``: distinct bytes that are no
    metadata (what libjpeg writes by default; the walk keeps it), so the image is stored as
    it came."""
    x, y = i % 65535 + 1, i // 65535 + 1
    return b"\xff\xe0\x00\x10JFIF\x00\x01\x01\x01" + struct.pack(">HH", x, y) + b"\x00\x00"


def _corpus(count: int, *, comments: bool = False) -> list[bytes]:
    """Distinct uploads of the same few images. With ``comments`` each also carries a JPEG
    comment (metadata, so the ingest removes it and stores new bytes)."""
    rng = random.Random(7)
    bases = [_noise_jpeg(size, seed) for seed, size in enumerate(SIZES)]
    items: list[bytes] = []
    for i in range(count):
        if i and rng.random() < 0.10:
            items.append(items[rng.randrange(len(items))])  # a dedup hit
            continue
        base = bases[i % len(bases)]
        # Distinct bytes, same decodable image.
        segment = _jfif(i)
        if comments:
            comment = f"object {i}".encode()
            segment += b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        items.append(base[:2] + segment + base[2:])
    return items


def _ingest_case(  # type: ignore[no-untyped-def]
    label: str,
    store: ObjectStore,
    raw_copy,
    db_dir: Path,
    count: int,
    *,
    inline: bool,
    batch: int = 1,
    concurrency: int = 1,
    comments: bool = False,
) -> Result:
    mode = "inline enrichment" if inline else "deferred enrichment"
    if batch == 1:
        mode += ", one `ingest` call per object"
    else:
        mode += f", `ingest_all` in batches of {batch}"
    if concurrency > 1:
        mode += f" on {concurrency} threads"
    if comments:
        mode += ", each upload with a JPEG comment (removed at ingest: new bytes stored)"
    name = f"{label}-{inline}-{batch}-{concurrency}-{comments}"
    db = Database.from_url(f"sqlite:///{db_dir / f'{name}.db'}")
    upgrade(db)
    cdn = "https://cdn.bench"
    media = MediaResourceService(db, store, UrlResolver(cdn), inline_enrichment=inline)
    round_size = max(batch, 50)
    corpus = _corpus(count + round_size, comments=comments)  # the first round: the warm-up
    total_mb = sum(len(b) for b in corpus[round_size:]) / MB
    keys = [f"temp/{uuid.uuid4().hex}_1706000000_p{i}.jpg" for i in range(len(corpus))]
    for key, data in zip(keys, corpus, strict=True):
        store.put(key, data, content_type="image/jpeg")

    items = [
        (MediaInput(url=f"{cdn}/{key}"), AttachTo("PRODUCT", uuid.uuid4(), "cover_image"))
        for key in keys
    ]
    # The sides alternate round by round (a round: the next 50 uploads), so that the disk's
    # and the machine's moods hit both: the baseline copies a round's uploads (leaving them
    # in place), then ours ingests the same uploads. Each side's figure is its median round.
    base_rounds: list[float] = []  # objects/s, round by round
    ours_rounds: list[float] = []
    base_total = ours_total = 0.0
    for offset in range(0, len(keys), round_size):
        chunk = slice(offset, offset + round_size)
        gc.collect()
        start = time.perf_counter()
        for key in keys[chunk]:
            raw_copy(key, f"media/{uuid.uuid4()}/file.jpg")
        base = time.perf_counter() - start
        gc.collect()
        start = time.perf_counter()
        if batch == 1:
            for media_input, target in items[chunk]:
                media.ingest(media_input, target)
        else:
            for first in range(offset, min(offset + round_size, len(keys)), batch):
                media.ingest_all(items[first : first + batch], concurrency=concurrency)
        ours = time.perf_counter() - start
        if offset:  # not the warm-up
            done = len(keys[chunk])
            base_rounds.append(done / base)
            ours_rounds.append(done / ours)
            base_total += base
            ours_total += ours
    ours_rate = statistics.median(ours_rounds)
    base_rate = statistics.median(base_rounds)
    spread = sorted(o / b for o, b in zip(ours_rounds, base_rounds, strict=True))
    parallel_copy = ""
    if concurrency > 1:
        timed_keys = keys[round_size:]
        for key, data in zip(timed_keys, corpus[round_size:], strict=True):
            store.put(key, data, content_type="image/jpeg")
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(lambda k: raw_copy(k, f"media/{uuid.uuid4()}/file.jpg"), timed_keys))
        threaded = time.perf_counter() - start
        parallel_copy = (
            f"; like for like, the same copies on {concurrency} threads ran at "
            f"{count / threaded:.1f} objects/s, which puts ours at "
            f"{ours_rate * threaded / count:.2f} of it"
        )
    media.close()
    db.dispose()
    return Result(
        "media",
        f"{label}: ingest {count} objects, 50 KB–5 MB, {mode}",
        ours_rate,
        base_rate,
        "objects/s",
        f"{total_mb:.0f} MB in all; medians of {len(ours_rounds)} rounds of {round_size} "
        f"(the two sides alternating, after a warm-up round): ours "
        f"{total_mb / count * ours_rate:.1f} MB/s, baseline copy "
        f"{total_mb / count * base_rate:.1f} MB/s; round by round the ratio ran from "
        f"{spread[0]:.2f} to {spread[-1]:.2f}, over the whole run "
        f"{base_total / ours_total:.2f}{parallel_copy}",
    )


PNG_SIZES = [50_000, 200_000, 1_000_000, 2_500_000]


def _noise_pngs(count: int) -> list[bytes]:
    """Distinct noise PNGs of 50 KB to 2.5 MB (RGB; noise does not deflate): one pixel of
    each base image set to the item's number, so each is another image, not metadata."""
    bases = []
    for seed, size in enumerate(PNG_SIZES):
        side = max(64, int((size / 3.05) ** 0.5))
        grey = pyvips.Image.gaussnoise(side, side, mean=128, sigma=60, seed=seed)
        bases.append(grey.bandjoin([grey, grey]).cast("uchar").copy_memory())
    items = []
    for i in range(count):
        base = bases[i % len(bases)]
        ink = [i % 256, i // 256 % 256, i // 65536 % 256]
        items.append(bytes(base.draw_rect(ink, 0, 0, 1, 1).write_to_buffer(".png[compression=1]")))
    return items


def _enrichment_case(label: str, store: ObjectStore, db_dir: Path, fmt: str, count: int) -> Result:
    """Inline against deferred enrichment: the same uploads (two copies of each), one
    ``ingest`` call per object, the two services alternating round by round. In each round
    the colour decode alone (``dominant_color``, as the service calls it, timed on the same
    bytes) takes its turn too, so the three share the machine's load; the notes say where
    inline's extra time goes, in wall time and in CPU time (this process's, all threads: a
    busy neighbour does not inflate it), and give the floor of a serial ingest: deferred's
    time plus the decode alone."""
    from sartiq_storage.adapters.media_probe import dominant_color

    round_size = 25
    corpus = _noise_pngs(count + round_size) if fmt == "png" else _corpus(count + round_size)
    content_type = "image/png" if fmt == "png" else "image/jpeg"
    cdn = "https://cdn.bench"
    services = {}
    uploads: dict[bool, list[tuple[MediaInput, AttachTo]]] = {}
    for inline in (True, False):
        db = Database.from_url(f"sqlite:///{db_dir / f'enrich-{label}-{fmt}-{inline}.db'}")
        upgrade(db)
        services[inline] = (
            db,
            MediaResourceService(db, store, UrlResolver(cdn), inline_enrichment=inline),
        )
        keys = [f"temp/{uuid.uuid4().hex}_1706000000_e{i}.{fmt}" for i in range(len(corpus))]
        for key, data in zip(keys, corpus, strict=True):
            store.put(key, data, content_type=content_type)
        uploads[inline] = [
            (MediaInput(url=f"{cdn}/{key}"), AttachTo("PRODUCT", uuid.uuid4(), "cover_image"))
            for key in keys
        ]
    sides = ("inline", "deferred", "decode")
    wall: dict[str, list[float]] = {side: [] for side in sides}
    cpu: dict[str, list[float]] = {side: [] for side in sides}
    sha: list[float] = []
    for number, offset in enumerate(range(0, len(corpus), round_size)):
        shift = number % len(sides)
        for side in sides[shift:] + sides[:shift]:  # each side first in turn
            gc.collect()
            if side == "decode":
                chunk_bytes = corpus[offset : offset + round_size]
                start, ticks = time.perf_counter(), time.process_time()
                for data in chunk_bytes:
                    dominant_color(data)
            else:
                media = services[side == "inline"][1]
                chunk = uploads[side == "inline"][offset : offset + round_size]
                start, ticks = time.perf_counter(), time.process_time()
                for media_input, target in chunk:
                    media.ingest(media_input, target)
            if number:
                wall[side].append((time.perf_counter() - start) / round_size)
                cpu[side].append((time.process_time() - ticks) / round_size)
        if number:
            for data in corpus[offset : offset + round_size]:
                started = time.perf_counter()
                hashlib.sha256(data).hexdigest()
                sha.append(time.perf_counter() - started)
    for db, media in services.values():
        media.close()
        db.dispose()
    per = {side: statistics.median(wall[side]) for side in sides}
    per_cpu = {side: statistics.median(cpu[side]) for side in sides}
    floor = per["deferred"] / (per["deferred"] + per["decode"])
    floor_cpu = per_cpu["deferred"] / (per_cpu["deferred"] + per_cpu["decode"])
    total_mb = sum(len(b) for b in corpus[round_size:]) / MB
    return Result(
        "media",
        f"{label}: inline vs deferred enrichment, {count} {fmt.upper()} uploads, one `ingest` "
        "call per object",
        1 / per["inline"],
        1 / per["deferred"],
        "objects/s",
        f"{total_mb:.0f} MB in all (noise, {len(wall['inline'])} rounds of {round_size}, "
        "inline, deferred and the decode alone taking turns); baseline = deferred enrichment "
        f"in the same run; inline's extra per object: "
        f"{(per['inline'] - per['deferred']) * 1000:.1f} ms, the dominant-colour decode alone "
        f"{per['decode'] * 1000:.1f} ms, SHA-256 {statistics.mean(sha) * 1000:.2f} ms (the "
        "decode runs on a thread of its own while the upload is hashed, looked up and "
        "copied); CPU time per object (all threads, not inflated by a busy neighbour): "
        f"inline {per_cpu['inline'] * 1000:.1f} ms, deferred {per_cpu['deferred'] * 1000:.1f} "
        f"ms, the decode alone {per_cpu['decode'] * 1000:.1f} ms; floor of an ingest that "
        f"decodes in series (deferred's time + the decode alone): {floor:.2f} (in CPU "
        f"time {floor_cpu:.2f}); medians of the rounds",
    )


def _request_floor(client, bucket: str, s3_copy, count: int) -> Result:  # type: ignore[no-untyped-def]
    """What the protocol allows on this server: an ingest's own requests against one copy.

    Verify-before-promote reads the upload (one GET of every byte: the metadata walk needs
    them) before the copy. Those two, done with plain boto3 calls and nothing else, against
    the baseline's copy alone, bound a sequential ingest's ratio from above (the batch's one
    DeleteObjects and its database work come on top).
    """
    corpus = _corpus(count)
    keys = [f"temp/floor-{i}.jpg" for i in range(count)]
    for key, data in zip(keys, corpus, strict=True):
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="image/jpeg")
    ours: list[float] = []
    base: list[float] = []
    for key in keys:
        start = time.perf_counter()
        s3_copy(key, f"media/{uuid.uuid4()}/file.jpg")
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        client.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3_copy(key, f"media/{uuid.uuid4()}/file.jpg")
        ours.append(time.perf_counter() - start)
    return Result(
        "media",
        f"s3 (moto): an ingest's requests alone (GET, copy) vs the copy alone, {count} objects",
        1 / statistics.median(ours),
        1 / statistics.median(base),
        "objects/s",
        "plain boto3 calls, no service code, object by object: the ceiling of a sequential "
        "ingest's ratio on this server, where reading an object costs about as much as "
        "copying it (on R2 and S3 a server-side copy never crosses the client's network)",
    )


def _md5_case(label: str, store: ObjectStore, size: int) -> Result:
    data = os.urandom(size)
    store.put("bench/md5.bin", data)
    rounds_ours: list[float] = []
    rounds_base: list[float] = []
    rounds_read: list[float] = []
    for _ in range(5):
        start = time.perf_counter()
        streamed = stream_digests(store, "bench/md5.bin", "md5")["md5"]
        rounds_ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        rounds_base.append(time.perf_counter() - start)
        assert streamed == expected
        start = time.perf_counter()
        with store.get("bench/md5.bin") as stream:
            for _chunk in stream:
                pass
        rounds_read.append(time.perf_counter() - start)
    ours = size / MB / sorted(rounds_ours)[2]
    base = size / MB / sorted(rounds_base)[2]
    read = size / MB / sorted(rounds_read)[2]
    return Result(
        "media",
        f"{label}: MD5 of a streamed {size // MB} MB object",
        ours,
        base,
        "MB/s",
        "median of 5; ours = `stream_digests` (a reader thread prefetches the next chunk "
        "while this one is hashed); baseline hashes bytes already in memory; the store "
        f"streams the same object at {read:.0f} MB/s with no hashing at all, so ours is at "
        f"{ours / read:.2f} of what the store can deliver",
    )


def _against_deferred(inline: Result, deferred: Result) -> Result:
    """The inline row, its notes saying what the decode costs against deferred enrichment
    (the same batches, one thread): the figure users feel when the API ingests."""
    share = inline.ours / deferred.ours if deferred.ours else float("nan")
    note = f"; ours at {share:.2f} of deferred enrichment's rate in the same run"
    return dataclasses.replace(inline, notes=inline.notes + note)


def run(quick: bool) -> list[Result]:
    ensure_repo_on_path()
    from sartiq_storage.testing.moto_server import moto_client, moto_server, moto_store

    count = 40 if quick else 1000
    s3_count = 20 if quick else 200
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-media-") as tmp:
        folder = Path(tmp)
        local = LocalStore(folder / "store")

        def local_copy(src: str, dst: str) -> None:
            target = local.objects / f"{dst}."
            target.parent.mkdir(parents=True, exist_ok=True)
            scratch = local.tmp / uuid.uuid4().hex
            shutil.copyfile(local.objects / f"{src}.", scratch)
            with open(scratch, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(scratch, target)

        for batch, threads in ((1, 1), (50, 1), (50, 4)):
            results.append(
                _ingest_case(
                    "local",
                    local,
                    local_copy,
                    folder,
                    count,
                    inline=False,
                    batch=batch,
                    concurrency=threads,
                )
            )
        results.append(
            _against_deferred(
                _ingest_case("local", local, local_copy, folder, count, inline=True, batch=50),
                results[1],
            )
        )
        results.append(
            _ingest_case(
                "local", local, local_copy, folder, count, inline=False, batch=50, comments=True
            )
        )
        for fmt in ("jpg", "png"):
            enrich_count = 50 if quick else 200
            results.append(_enrichment_case("local", local, folder, fmt, enrich_count))
        results.append(_md5_case("local", local, 50 * MB if not quick else 5 * MB))

        with moto_server() as endpoint:
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            client = moto_client(endpoint, "bench", "bench")
            client.create_bucket(Bucket=bucket)
            s3 = moto_store(endpoint, bucket, "bench", "bench")

            def s3_copy(src: str, dst: str) -> None:
                client.copy_object(
                    Bucket=bucket,
                    Key=dst,
                    CopySource={"Bucket": bucket, "Key": src},
                    MetadataDirective="REPLACE",
                    ContentType="image/jpeg",
                    CacheControl="public, max-age=31536000, immutable",
                )

            # Over the network more threads pay: each waits on a round trip, not the CPU.
            for batch, threads in ((1, 1), (50, 1), (50, 8)):
                results.append(
                    _ingest_case(
                        "s3 (moto)",
                        s3,
                        s3_copy,
                        folder,
                        s3_count,
                        inline=False,
                        batch=batch,
                        concurrency=threads,
                    )
                )
            results.append(
                _against_deferred(
                    _ingest_case("s3 (moto)", s3, s3_copy, folder, s3_count, inline=True, batch=50),
                    results[-2],
                )
            )
            results.append(_request_floor(client, bucket, s3_copy, s3_count))
            results.append(_md5_case("s3 (moto)", s3, 20 * MB if not quick else 2 * MB))
            s3.close()
    return results
