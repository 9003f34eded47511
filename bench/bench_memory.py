"""Memory near the pixel limit: what one big ingest or a burst of conversions adds to a process.

Each case runs in a fresh child process (``python -m bench.bench_memory CASE DIR``), which
reports its RSS before the work, its peak during it (``VmHWM`` after resetting it through
``/proc/self/clear_refs``) and its RSS after it. The parent makes the images once.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from bench.harness import Result, ensure_repo_on_path, proc_status
from bench.harness import run_child as run_bench_child

TITLE = "Memory near the pixel limit"
DESCRIPTION = """\
Peak RSS growth of a process (MB, 10^6 bytes) while it ingests one image at the 100-megapixel
limit (10,000 × 9,999 JPEG, about 28 MB, read from the local store, SQLite) or converts one
100-megapixel PNG (`DeliveryService.make`, the `?type=` path) eight times at once, each case
in a fresh child process. **ours** is this service; **baseline** is plain pyvips doing the same
image work in the same run (`new_from_buffer` + `autorot` + `jpegsave_buffer` for a rotation,
`new_from_buffer` + `webpsave_buffer` on eight threads for the conversions, libvips' defaults).
Here **ratio = ours / baseline: below 1 ours holds less**. "after" is the RSS left once the
work is done (glibc returns freed memory only when trimmed). The decoded size of the image
(width × height × 3 bytes, 300 MB) is the yardstick the notes compare with. Bar: an ingest adds
at most 256 MB. The AVIF rows ingest the same photo as AVIF (`heifsave`, effort 0, Q 50, with
libvips' harmless EXIF item after the pixels); their baseline is plain pyvips converting it to
JPEG (`new_from_buffer` + `jpegsave_buffer`): libheif decodes an AVIF whole.
"""

WIDTH, HEIGHT = 10_000, 9_999
PARALLEL = 8
MB = 1_000_000


# -- the child -------------------------------------------------------------------------------


def _measure(work: Callable[[], str]) -> dict[str, object]:
    gc.collect()
    before = proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w", encoding="ascii") as refs:
        refs.write("5")  # resets VmHWM to the current RSS
    start = time.perf_counter()
    outcome = work()
    seconds = time.perf_counter() - start
    peak = proc_status("VmHWM")
    gc.collect()
    time.sleep(0.2)
    after = proc_status("VmRSS")
    return {
        "peak_mb": (peak - before) / MB,
        "after_mb": (after - before) / MB,
        "seconds": seconds,
        "outcome": outcome,
    }


def _service(folder: Path, *, inline: bool = True) -> tuple[object, object]:
    from sartiq_storage.adapters.db.engine import Database
    from sartiq_storage.adapters.db.migrate import upgrade
    from sartiq_storage.adapters.stores.local import LocalStore
    from sartiq_storage.core.urls import UrlResolver
    from sartiq_storage.services.media.service import MediaResourceService

    db = Database.from_url(f"sqlite:///{folder / 'storage.db'}")
    upgrade(db)
    store = LocalStore(folder / "store")
    urls = UrlResolver("https://cdn.test")
    return MediaResourceService(db, store, urls, inline_enrichment=inline), store


def _ingest(folder: Path, image: str, *, inline: bool = True) -> Callable[[], str]:
    import uuid

    from sartiq_storage.services.media.service import AttachTo, MediaInput

    media, store = _service(folder, inline=inline)
    key = f"temp/{uuid.uuid4().hex}_1706000000_big.jpg"
    store.put(key, (folder.parent / image).read_bytes(), content_type="image/jpeg")  # type: ignore[attr-defined]

    def work() -> str:
        target = AttachTo("PRODUCT", uuid.uuid4(), "cover_image")
        result = media.ingest(MediaInput(url=f"https://cdn.test/{key}"), target)  # type: ignore[attr-defined]
        resource = result.resource
        return f"stored {resource.width}×{resource.height}, {resource.file_size / MB:.1f} MB"

    return work


def _convert_burst(folder: Path) -> Callable[[], str]:
    from sartiq_storage.adapters.vips import DECODES
    from sartiq_storage.core.config import load_settings
    from sartiq_storage.core.errors import DecodersBusyError
    from sartiq_storage.core.urls import UrlResolver
    from sartiq_storage.services.delivery import DeliveryService

    _, store = _service(folder)
    store.put("media/big/file.png", (folder.parent / "big.png").read_bytes())  # type: ignore[attr-defined]
    settings = load_settings(STORAGE_DATA_DIR=str(folder))
    DECODES.configure(settings.STORAGE_MAX_CONCURRENT_DECODES, settings.STORAGE_DECODE_WAIT_SECONDS)
    # A generous time budget: the memory is measured, not the 20-s budget of a loaded machine.
    urls = UrlResolver("https://cdn.test")
    delivery = DeliveryService(settings, store, urls, timeout=600)  # type: ignore[arg-type]

    def work() -> str:
        outcomes: list[str] = []

        def one() -> None:
            try:
                source, _ = delivery.derivative_for("media/big/file.png", "webp")
                delivery.make(source, "webp")
                outcomes.append("made")
            except DecodersBusyError:
                outcomes.append("503")
            except Exception as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        others = [o for o in outcomes if o not in ("made", "503")]
        made, busy = outcomes.count("made"), outcomes.count("503")
        return f"{made} converted, {busy} answered 503" + (f", failed: {others}" if others else "")

    return work


def _plain_rotate(folder: Path) -> Callable[[], str]:
    import pyvips

    data = (folder.parent / "rotated.jpg").read_bytes()

    def work() -> str:
        image = pyvips.Image.new_from_buffer(data, "").autorot()
        out = image.write_to_buffer(".jpg[Q=95]", keep="icc")
        return f"{len(out) / MB:.1f} MB"

    return work


def _plain_avif_to_jpeg(folder: Path) -> Callable[[], str]:
    import pyvips

    data = (folder.parent / "plain.avif").read_bytes()

    def work() -> str:
        out = pyvips.Image.new_from_buffer(data, "", access="sequential").jpegsave_buffer(Q=95)
        return f"{len(out) / MB:.1f} MB"

    return work


def _plain_convert_burst(folder: Path) -> Callable[[], str]:
    import pyvips

    data = (folder.parent / "big.png").read_bytes()

    def work() -> str:
        def one() -> None:
            pyvips.Image.new_from_buffer(data, "").write_to_buffer(".webp[Q=82,effort=3]")

        threads = [threading.Thread(target=one) for _ in range(PARALLEL)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return f"{PARALLEL} converted"

    return work


CASES: dict[str, Callable[[Path], Callable[[], str]]] = {
    "ingest-rotated": lambda folder: _ingest(folder, "rotated.jpg"),
    "ingest-located": lambda folder: _ingest(folder, "located.jpg"),
    "ingest-plain": lambda folder: _ingest(folder, "plain.jpg"),
    "ingest-avif-deferred": lambda folder: _ingest(folder, "plain.avif", inline=False),
    "ingest-avif-inline": lambda folder: _ingest(folder, "plain.avif"),
    "ingest-avif-located": lambda folder: _ingest(folder, "located.avif", inline=False),
    "plain-avif-to-jpeg": _plain_avif_to_jpeg,
    "convert-burst": _convert_burst,
    "plain-rotate": _plain_rotate,
    "plain-convert-burst": _plain_convert_burst,
}


def child(case: str, folder: Path) -> dict[str, object]:
    ensure_repo_on_path()
    folder.mkdir(parents=True, exist_ok=True)
    return _measure(CASES[case](folder))


# -- the parent ------------------------------------------------------------------------------


def make_images(folder: Path, width: int, height: int) -> None:
    """A gradient photo with some grain (JPEG about 20 MB at full size), three ways, the same
    photo as AVIF (effort 0, clean and with GPS), and a smooth PNG of the same size."""
    import pyvips

    xy = pyvips.Image.xyz(width, height)
    r = xy[0] * 255 / width
    g = xy[1] * 255 / height
    b = (xy[0] + xy[1]) * 127 / (width + height)
    smooth = r.bandjoin([g, b]).cast("uchar")
    smooth.write_to_file(str(folder / "big.png"), compression=1)
    grain = pyvips.Image.gaussnoise(width, height, sigma=6, mean=0)
    photo = (smooth + grain).cast("uchar")
    photo.write_to_file(str(folder / "plain.jpg"), Q=90, keep="none")
    for name, orientation, gps in (("rotated.jpg", 6, False), ("located.jpg", 1, True)):
        tagged = photo.copy()
        tagged.set_type(pyvips.GValue.gint_type, "orientation", orientation)
        if gps:
            tagged.set_type(
                pyvips.GValue.gstr_type,
                "exif-ifd3-GPSLatitudeRef",
                "N (N, ASCII, 2 components, 2 bytes)",
            )
        tagged.write_to_file(str(folder / name), Q=90)
        avif = name.replace(".jpg", ".avif").replace("rotated", "plain")  # no rotated AVIF
        (photo if not gps else tagged).heifsave(
            str(folder / avif), compression="av1", effort=0, Q=50
        )  # libvips' harmless EXIF item sits after the pixels: the prefix has no header


def run_child(case: str, folder: Path) -> dict[str, object]:
    return run_bench_child("bench.bench_memory", case, str(folder / case))


def _note(result: dict[str, object]) -> str:
    return (
        f"{result['outcome']}; after: {float(result['after_mb']):+.0f} MB; "  # type: ignore[arg-type]
        f"{float(result['seconds']):.1f} s"  # type: ignore[arg-type]
    )


def run(quick: bool) -> list[Result]:
    width, height = (2_000, 2_000) if quick else (WIDTH, HEIGHT)
    decoded = width * height * 3 / MB
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        make_images(folder, width, height)
        sizes = {p.name: p.stat().st_size / MB for p in folder.iterdir()}
        got = {case: run_child(case, folder) for case in CASES}
    rows = []
    jpeg = ("rotated.jpg", "plain-rotate", "plain pyvips rotating it")
    avif = ("plain.avif", "plain-avif-to-jpeg", "plain pyvips AVIF → JPEG")
    for case, what, (upload, baseline, label) in (
        ("ingest-rotated", "ingest, EXIF orientation 6 (re-encoded upright)", jpeg),
        ("ingest-located", "ingest, GPS in EXIF (stripped at the byte level)", jpeg),
        ("ingest-plain", "ingest, nothing to clean (copied)", jpeg),
        ("ingest-avif-deferred", "ingest AVIF, deferred enrichment, nothing to clean", avif),
        (
            "ingest-avif-inline",
            "ingest AVIF, inline enrichment (over 16 MP: no colour decode)",
            avif,
        ),
        ("ingest-avif-located", "ingest AVIF, GPS in EXIF (stripped at the byte level)", avif),
    ):
        ours = float(got[case]["peak_mb"])  # type: ignore[arg-type]
        base = float(got[baseline]["peak_mb"])  # type: ignore[arg-type]
        notes = (
            f"{_note(got[case])}; upload {sizes[upload]:.1f} MB, decoded {decoded:.0f} MB; "
            f"baseline: {label} ({_note(got[baseline])})"
        )
        rows.append(Result(TITLE, what, ours, base, "MB peak", notes))
    ours = float(got["convert-burst"]["peak_mb"])  # type: ignore[arg-type]
    base = float(got["plain-convert-burst"]["peak_mb"])  # type: ignore[arg-type]
    rows.append(
        Result(
            TITLE,
            f"{PARALLEL} parallel `?type=webp` of one {width * height / 1e6:.0f} MP PNG",
            ours,
            base,
            "MB peak",
            f"ours: {_note(got['convert-burst'])} (cap 2, 5-s wait: the defaults); "
            f"baseline: plain pyvips on {PARALLEL} threads "
            f"({_note(got['plain-convert-burst'])}); PNG {sizes['big.png']:.1f} MB, "
            f"decoded {decoded:.0f} MB",
        )
    )
    return rows


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], Path(sys.argv[2]))))
