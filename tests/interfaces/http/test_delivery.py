"""``GET /files``: redirects per environment, ``?type=`` conversions, and what is refused."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import pyvips
from fastapi.testclient import TestClient

from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import animated_gif, image_bytes
from tests.support.asgi import make_app, make_context

KEY = "images/products/abc123/product_abc123_SKU001_d4e5f6_cover.png"


def _client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> TestClient:
    return TestClient(make_app(make_context(monkeypatch, tmp_path, **env)))


@pytest.fixture
def dev(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[TestClient]:
    with _client(monkeypatch, tmp_path, STORAGE_SERVICE_URL="http://testserver") as client:
        yield client


def _context(client: TestClient) -> StorageContext:
    context: StorageContext = client.app.state.context  # type: ignore[attr-defined]
    return context


R2 = {
    "ENVIRONMENT": "production",
    "R2_ENDPOINT_URL": "https://acc.r2.cloudflarestorage.com",
    "R2_ACCESS_KEY_ID": "id",
    "R2_SECRET_ACCESS_KEY": "secret",
}


def test_production_redirects(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = R2
    with _client(monkeypatch, tmp_path, **env) as client:
        plain = client.get(f"/files/{KEY}", follow_redirects=False)
        assert plain.status_code == 302
        assert plain.headers["location"] == f"https://media.sartiq.com/{KEY}"
        assert plain.headers["cache-control"] == "public, max-age=31536000, immutable"
        # Transformations off: the plain URL even with a type.
        assert (
            client.get(f"/files/{KEY}?type=webp", follow_redirects=False).headers["location"]
            == f"https://media.sartiq.com/{KEY}"
        )


def test_cloudflare_transformations(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env = {**R2, "CLOUDFLARE_IMAGE_TRANSFORMATIONS_ENABLED": "true"}
    with _client(monkeypatch, tmp_path, **env) as client:
        response = client.get(f"/files/{KEY}?type=avif", follow_redirects=False)
        assert response.headers["location"] == (
            f"https://media.sartiq.com/cdn-cgi/image/format=avif/{KEY}"
        )
        auto = client.get(
            f"/files/{KEY}?type=auto", headers={"Accept": "image/webp,*/*"}, follow_redirects=False
        )
        assert auto.headers["location"].endswith(f"/format=webp/{KEY}")
        assert "Accept" in auto.headers["vary"]
        assert "no-store" in auto.headers["cache-control"]


def test_embedded_store_converts_locally_in_any_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = {"ENVIRONMENT": "staging", "STORAGE_SERVICE_URL": "https://storage.staging.test"}
    with _client(monkeypatch, tmp_path, **env) as client:
        location = client.get(f"/files/{KEY}?type=webp", follow_redirects=False).headers["location"]
        assert location == f"https://storage.staging.test/_storage/derived/webp/{KEY}"


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        ("image/avif,image/webp,*/*", "avif"),
        ("image/webp,*/*", "webp"),
        ("*/*", "jpeg"),
        ("", "jpeg"),
    ],
)
def test_auto_negotiates(dev: TestClient, accept: str, chosen: str) -> None:
    response = dev.get(
        f"/files/{KEY}?type=auto", headers={"Accept": accept}, follow_redirects=False
    )
    assert response.status_code == 302
    assert f"/_storage/derived/{chosen}/" in response.headers["location"]


@pytest.mark.parametrize(
    ("url", "status"),
    [
        (f"/files/{KEY}?type=bmp", 422),
        (f"/files/{KEY}?type=", 422),
        (f"/files/{KEY}?type=webp&width=10", 422),
        (f"/files/{KEY}?next=https://evil.test", 422),
        ("/files/a/%2e%2e/b", 400),
        ("/files/a%00b", 400),
        ("/files/%2fetc%2fpasswd", 400),
        ("/files/a\\b", 400),
    ],
)
def test_refusals(dev: TestClient, url: str, status: int) -> None:
    response = dev.get(url, follow_redirects=False)
    assert response.status_code == status, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "path",
    [
        "/@evil.test/x",
        "//evil.test/x",
        "/\\evil.test",
        "/%0d%0aLocation:%20http://evil.test",
        "/x/../../evil",
    ],
)
def test_location_only_points_at_our_hosts(dev: TestClient, path: str) -> None:
    response = dev.get(f"/files{path}", follow_redirects=False)
    if response.status_code == 302:
        location = response.headers["location"]
        assert "\r" not in location
        assert "\n" not in location
        assert urlsplit(location).netloc == "testserver"
    else:
        assert response.status_code in (400, 404, 422)


@pytest.mark.parametrize("fmt", ["webp", "jpeg", "png", "avif", "gif"])
def test_every_format_decodes(dev: TestClient, fmt: str) -> None:
    _context(dev).store.put(KEY, image_bytes("png", 50, 40), content_type="image/png")
    response = dev.get(f"/files/{KEY}?type={fmt}", follow_redirects=True)
    assert response.status_code == 200, response.text
    decoded = pyvips.Image.new_from_buffer(response.content, "")
    assert (decoded.width, decoded.height) == (50, 40)
    assert response.headers["content-type"] == {"jpeg": "image/jpeg"}.get(fmt, f"image/{fmt}")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    ranged = dev.get(response.url, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206
    assert ranged.content == response.content[:4]
    # Cached: the derivative exists once, and a second request serves the same bytes.
    assert dev.get(response.url).content == response.content
    assert len(list(_context(dev).store.list(f"derived/{fmt}/"))) == 1


@pytest.mark.parametrize("fmt", ["gif", "webp"])
def test_animation_is_kept(dev: TestClient, fmt: str) -> None:
    key = "media/anim/file.gif"
    _context(dev).store.put(key, animated_gif(4), content_type="image/gif")
    response = dev.get(f"/files/{key}?type={fmt}", follow_redirects=True)
    image = pyvips.Image.new_from_buffer(response.content, "", n=-1)
    assert image.get("n-pages") == 4


def test_exif_orientation_applied_and_metadata_stripped(dev: TestClient) -> None:
    base = (pyvips.Image.black(40, 20, bands=3) + [255, 0, 0]).cast("uchar").copy()
    base.set_type(pyvips.GValue.gint_type, "orientation", 6)  # rotate 90° on display
    _context(dev).store.put(
        "media/rot/file.jpg", bytes(base.write_to_buffer(".jpg")), content_type="image/jpeg"
    )
    out = dev.get("/files/media/rot/file.jpg?type=png", follow_redirects=True).content
    image = pyvips.Image.new_from_buffer(out, "")
    assert (image.width, image.height) == (20, 40)
    assert "exif-data" not in image.get_fields()


def test_missing_source_is_404(dev: TestClient) -> None:
    assert dev.get("/files/media/none/file.png?type=webp", follow_redirects=True).status_code == 404


BOMB_SCRIPT = """
import resource, sys
sys.path.insert(0, {root!r})
from sartiq_storage.adapters.image_convert import convert
from sartiq_storage.adapters.media_probe import DecompressionBombError
data = open({path!r}, "rb").read()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    convert(data, "webp")
    print("CONVERTED")
except DecompressionBombError as exc:
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("REFUSED", (after - before) // 1024, exc)
"""


def test_100_megapixel_bomb_refused_with_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    pyvips.Image.black(10_001, 10_001).write_to_file(str(bomb))  # 100 MP, a small file
    assert bomb.stat().st_size < 2_000_000
    script = BOMB_SCRIPT.format(root=str(Path(__file__).parents[3] / "src"), path=str(bomb))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.startswith("REFUSED"), done.stdout + done.stderr
    extra_mb = int(done.stdout.split()[1])
    assert extra_mb < 256
    assert "pixel limit" in done.stdout


def test_bomb_through_files_is_a_clear_4xx(dev: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "b.png"
    pyvips.Image.black(10_001, 10_001).write_to_file(str(path))
    _context(dev).store.put("media/bomb/file.png", path.read_bytes(), content_type="image/png")
    response = dev.get("/files/media/bomb/file.png?type=webp", follow_redirects=True)
    assert response.status_code == 422
    assert "pixel limit" in response.json()["detail"]


def test_fast_path_cors_head_and_options(dev: TestClient) -> None:
    got = dev.get(
        f"/files/{KEY}", headers={"Origin": "http://localhost:3000"}, follow_redirects=False
    )
    assert got.status_code == 302
    assert got.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert "Origin" in got.headers["vary"]
    other = dev.get(
        f"/files/{KEY}", headers={"Origin": "https://evil.test"}, follow_redirects=False
    )
    assert "access-control-allow-origin" not in other.headers
    head = dev.head(f"/files/{KEY}", follow_redirects=False)
    assert head.status_code == 302
    assert head.headers["location"].endswith(KEY)
    preflight = dev.options(
        f"/files/{KEY}",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert "/files/{file_path}" in dev.get("/openapi.json").json()["paths"]


def test_swept_derivative_is_made_again(dev: TestClient) -> None:
    store = _context(dev).store
    store.put("media/sw/file.png", image_bytes("png", 30, 30), content_type="image/png")
    first = dev.get("/files/media/sw/file.png?type=webp", follow_redirects=True)
    assert first.status_code == 200
    for info in list(store.list("derived/")):
        store.delete(info.key)  # a lifecycle sweep removed the cache
    again = dev.get("/files/media/sw/file.png?type=webp", follow_redirects=True)
    assert again.status_code == 200
    assert again.content == first.content


def test_icc_profiles_are_converted_to_srgb(dev: TestClient) -> None:
    srgb = (pyvips.Image.black(32, 32, bands=3) + [200, 30, 30]).cast("uchar")
    wide = srgb.icc_transform("p3", input_profile="srgb")  # Display P3 pixels, profile embedded
    assert "icc-profile-data" in wide.get_fields()
    _context(dev).store.put(
        "media/p3/file.png", bytes(wide.write_to_buffer(".png")), content_type="image/png"
    )
    out = pyvips.Image.new_from_buffer(
        dev.get("/files/media/p3/file.png?type=png", follow_redirects=True).content, ""
    )
    assert "icc-profile-data" not in out.get_fields()
    red, green, blue = (out.extract_band(i).avg() for i in range(3))
    assert abs(red - 200) <= 4
    assert abs(green - 30) <= 6
    assert abs(blue - 30) <= 6


def test_conversion_time_budget() -> None:
    from sartiq_storage.adapters.image_convert import ConversionTimeoutError, convert

    big = pyvips.Image.gaussnoise(3000, 3000).cast("uchar").write_to_buffer(".png")
    with pytest.raises(ConversionTimeoutError):
        convert(bytes(big), "avif", timeout=0.001)


def test_derivative_of_a_deleted_source_is_404_from_every_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two apps on one store stand for two `serve` processes: each has converted (and
    served) the source; once it is deleted through one, neither serves its derivative.
    (The multi-process proof on PostgreSQL and S3: tests/hardening/test_several_hosts.py.)"""
    url = "/files/media/gone/file.png?type=webp"
    env = {"STORAGE_SERVICE_URL": "http://testserver"}
    with _client(monkeypatch, tmp_path, **env) as one, _client(monkeypatch, tmp_path, **env) as two:
        _context(one).store.put(
            "media/gone/file.png", image_bytes("png", 30, 30), content_type="image/png"
        )
        for client in (one, two):
            assert client.get(url, follow_redirects=True).status_code == 200
        _context(one).store.delete("media/gone/file.png")
        for client in (one, two):
            response = client.get(url, follow_redirects=True)
            assert response.status_code == 404
            assert "detail" in response.json()
