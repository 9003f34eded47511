"""Multipart uploads end to end: a running ``serve``, real HTTP, Uppy's Companion protocol.

On the embedded default (the service is the part target) and on each selected S3 server (the
bucket is): a 12 MiB video in 5 MiB parts, interrupted after two parts, resumed from the
listing, completed, then ingested by the existing route. And every refusal the protocol
promises, each a 4xx with a JSON ``detail`` and nothing left behind.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sartiq_storage.core.config import MAX_UPLOAD_BYTES
from sartiq_storage.core.multipart import MIB
from sartiq_storage.core.tokens import issue_token
from sartiq_storage.testing.media import ingest_body, mp4_bytes
from sartiq_storage.testing.moto_server import free_port, make_bucket
from tests.support.cli import sartiq
from tests.support.s3_servers import S3Server, selected_servers
from tests.support.serve_process import get_once_up, serve_process

SECRET = "multipart-secret-of-a-sensible-length-0123456789"
ROOT = "/api/v1/uploads/s3/multipart"


def padded_mp4(size: int) -> bytes:
    """A real MP4 grown to ``size`` bytes by a trailing ``free`` box (players skip it)."""
    video = mp4_bytes()
    pad = size - len(video)
    return video + pad.to_bytes(4, "big") + b"free" + b"\0" * (pad - 8)


def _settings(tmp_path: Path, base: str, **extra: int) -> dict[str, str]:
    """A ``serve`` of this module's: its secret, URL and data folder; videos up to 64 MiB."""
    settings = {
        "AUTH_JWT_SECRET": SECRET,
        "STORAGE_SERVICE_URL": base,
        "STORAGE_DATA_DIR": str(tmp_path / "data"),
        "STORAGE_MAX_VIDEO_UPLOAD_BYTES": str(64 * MIB),
    }
    return settings | {name: str(value) for name, value in extra.items()}


@pytest.fixture(params=["embedded", *selected_servers()])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _settings(tmp_path, base, STORAGE_MULTIPART_PART_BYTES=5 * MIB)
    if request.param != "embedded":
        server = S3Server(request.param, request.getfixturevalue(f"{request.param}_endpoint"))
        env.update(server.settings(make_bucket(server.endpoint)))
    with serve_process(tmp_path, port, env=env):
        assert get_once_up(f"{base}/healthz").status_code == 200
        auth = {"Authorization": f"Bearer {issue_token(SECRET, 'webapp')}"}
        with httpx.Client(base_url=base, headers=auth, timeout=60) as client:
            yield client


def _put(url: str, data: bytes) -> str:
    """A part PUT as the browser sends it (no credentials, no extra headers); its ETag."""
    answer = httpx.put(url, content=data, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.headers["etag"]


def _create(api: httpx.Client, size: int, **extra: Any) -> dict[str, Any]:
    body = {"filename": "Clip (1).mp4", "type": "video/mp4", "metadata": {}, "size": size}
    answer = api.post(ROOT, json={**body, **extra})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_upload_in_parts_resume_complete_and_ingest(service: httpx.Client) -> None:
    api = service
    data = padded_mp4(12 * MIB)
    created = _create(api, len(data))
    key, upload_id = created["key"], created["uploadId"]
    assert key.startswith("temp/")
    assert key.endswith("_Clip-1.mp4")
    assert created["partSize"] == 5 * MIB
    assert created["maxParts"] == 3
    query = {"key": key}
    batch = api.get(f"{ROOT}/{upload_id}/batch", params={**query, "partNumbers": "1,2"})
    assert batch.status_code == 200, batch.text
    urls = batch.json()["presignedUrls"]
    etags = {n: _put(urls[str(n)], data[(n - 1) * 5 * MIB : n * 5 * MIB]) for n in (1, 2)}

    # The connection drops here; the client comes back with only the key and the upload id.
    listed = api.get(f"{ROOT}/{upload_id}", params=query)
    assert listed.status_code == 200, listed.text
    assert [(p["PartNumber"], p["Size"]) for p in listed.json()] == [(1, 5 * MIB), (2, 5 * MIB)]
    assert {p["PartNumber"]: p["ETag"] for p in listed.json()} == etags
    last = api.get(f"{ROOT}/{upload_id}/3", params=query)
    assert last.status_code == 200, last.text
    _put(last.json()["url"], data[10 * MIB :])
    parts = [
        {"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
        for p in api.get(f"{ROOT}/{upload_id}", params=query).json()
    ]
    done = api.post(f"{ROOT}/{upload_id}/complete", params=query, json={"parts": parts})
    assert done.status_code == 200, done.text
    assert done.json()["key"] == key
    assert done.json()["size"] == len(data)
    assert done.json()["location"] == created["fileUrl"]

    ingested = api.post(
        "/api/v1/media-resources/ingest",
        json={
            "media": {"url": created["fileUrl"]},
            "entity_type": "PRODUCT",
            "entity_id": str(uuid.uuid4()),
            "slot": "video",
        },
    )
    assert ingested.status_code == 201, ingested.text
    resource = ingested.json()["media_resource"]
    assert resource["resource_type"] == "VIDEO"
    assert resource["file_size"] == len(data)


def test_refusals_are_clear_and_leave_nothing(service: httpx.Client) -> None:
    api = service
    created = _create(api, 12 * MIB)
    key, upload_id = created["key"], created["uploadId"]
    query = {"key": key}

    def refused(answer: httpx.Response, status: int, words: str) -> None:
        assert answer.status_code == status, answer.text
        assert words in answer.json()["detail"], answer.text

    refused(api.get(f"{ROOT}/{'f' * 32}", params=query), 404, "upload")
    refused(api.get(f"{ROOT}/{upload_id}", params={"key": "media/x/file.mp4"}), 400, "temp/")
    stranger = {"Authorization": f"Bearer {issue_token(SECRET, 'someone-else')}"}
    refused(api.get(f"{ROOT}/{upload_id}", params=query, headers=stranger), 403, "another")
    refused(api.get(f"{ROOT}/{upload_id}/4", params=query), 400, "out of range")
    refused(api.get(f"{ROOT}/{upload_id}/batch", params={**query, "partNumbers": "1,x"}), 400, "x")
    refused(
        api.post(ROOT, json={"filename": "a.jpg", "type": "image/jpeg", "size": 3 * 1024**3}),
        413,
        "image",
    )
    refused(
        api.post(ROOT, json={"filename": "a.mp4", "type": "video/mp4", "size": 65 * MIB}),
        413,
        "limit",
    )
    refused(
        api.post(ROOT, json={"filename": "a.svg", "type": "image/svg+xml"}), 422, "not accepted"
    )
    assert (
        api.post(
            ROOT, json={"filename": "a.mp4", "type": "video/mp4"}, headers={"Authorization": ""}
        ).status_code
        == 401
    )

    url = api.get(f"{ROOT}/{upload_id}/1", params=query).json()["url"]
    etag = _put(url, b"\0" * (5 * MIB))
    refused(
        api.post(
            f"{ROOT}/{upload_id}/complete",
            params=query,
            json={"parts": [{"PartNumber": 1, "ETag": '"' + "0" * 32 + '"'}]},
        ),
        400,
        "ETag",
    )
    # Refused at completion: the upload was aborted, its parts are gone.
    refused(api.get(f"{ROOT}/{upload_id}", params=query), 404, "finished or has expired")
    assert etag

    other = _create(api, 6 * MIB)
    oq = {"key": other["key"]}
    first = _put(
        api.get(f"{ROOT}/{other['uploadId']}/1", params=oq).json()["url"], b"1" * (5 * MIB)
    )
    second = _put(api.get(f"{ROOT}/{other['uploadId']}/2", params=oq).json()["url"], b"2" * 10)
    parts = [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
    refused(
        api.post(f"{ROOT}/{other['uploadId']}/complete", params=oq, json={"parts": parts}),
        400,
        "declared",
    )

    third = _create(api, 6 * MIB)
    tq = {"key": third["key"]}
    aborted = api.delete(f"{ROOT}/{third['uploadId']}", params=tq)
    assert aborted.status_code == 200
    assert aborted.json() == {}
    refused(api.get(f"{ROOT}/{third['uploadId']}", params=tq), 404, "upload")


def test_abort_names_the_upload_it_drops(service: httpx.Client) -> None:
    """DELETE with an id that is not the key's live upload (a made-up one, one already
    completed) is a 404 and changes nothing: the key's upload goes on. (Another key's upload
    id is not tried here: moto ignores the key and would abort that other upload.)"""
    api = service
    created = _create(api, 6 * MIB)
    key, upload_id = created["key"], created["uploadId"]
    query = {"key": key}
    first = _put(api.get(f"{ROOT}/{upload_id}/1", params=query).json()["url"], b"1" * (5 * MIB))
    answer = api.delete(f"{ROOT}/{'f' * 32}", params=query)
    assert answer.status_code == 404, answer.text
    assert "upload" in answer.json()["detail"]
    listed = api.get(f"{ROOT}/{upload_id}", params=query)
    assert listed.status_code == 200, listed.text
    assert [p["ETag"] for p in listed.json()] == [first]

    second = _put(api.get(f"{ROOT}/{upload_id}/2", params=query).json()["url"], b"2" * MIB)
    parts = [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
    done = api.post(f"{ROOT}/{upload_id}/complete", params=query, json={"parts": parts})
    assert done.status_code == 200, done.text
    # Completed: no longer an upload to abort (docs/uploads.md, "Refusals").
    late = api.delete(f"{ROOT}/{upload_id}", params=query)
    assert late.status_code == 404, late.text


def test_a_part_number_that_is_not_a_number_is_a_400(service: httpx.Client) -> None:
    api = service
    created = _create(api, 6 * MIB)
    query = {"key": created["key"]}
    for raw in ("abc", "1.5", "-1", "0", "10001", "²", "1" * 5000):
        answer = api.get(f"{ROOT}/{created['uploadId']}/{raw}", params=query)
        assert answer.status_code == 400, (raw, answer.text)
        assert isinstance(answer.json()["detail"], str), answer.text
        batch = api.get(
            f"{ROOT}/{created['uploadId']}/batch", params={**query, "partNumbers": f"1,{raw}"}
        )
        assert batch.status_code == 400, (raw, batch.text)


def test_a_completion_naming_part_0_10001_or_none_is_a_400_and_aborts(
    service: httpx.Client,
) -> None:
    """docs/uploads.md: a part number out of range is a 400, and a refused completion aborts
    the upload (nothing left behind), as for a part that was never uploaded."""
    api = service
    for parts in ([0], [10001], [1, 10001], []):
        created = _create(api, 1 * MIB)
        upload_id, query = created["uploadId"], {"key": created["key"]}
        etag = _put(api.get(f"{ROOT}/{upload_id}/1", params=query).json()["url"], b"1" * MIB)
        body = {"parts": [{"PartNumber": n, "ETag": etag} for n in parts]}
        answer = api.post(f"{ROOT}/{upload_id}/complete", params=query, json=body)
        assert answer.status_code == 400, (parts, answer.text)
        assert isinstance(answer.json()["detail"], str), answer.text
        gone = api.get(f"{ROOT}/{upload_id}", params=query)
        assert gone.status_code == 404, (parts, gone.text)


def test_ingestion_holds_videos_to_the_video_upload_setting(tmp_path: Path) -> None:
    """``STORAGE_MAX_VIDEO_UPLOAD_BYTES`` is the largest video (README): ingestion applies it
    too, not a fixed 5 GiB, so raising it lets such videos in and lowering it keeps bigger
    ones out. Here lowered to 60 MiB: a 70 MiB video an operator put in ``temp/`` is a 413."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _settings(tmp_path, base, STORAGE_MAX_VIDEO_UPLOAD_BYTES=60 * MIB)
    (tmp_path / "clip.mp4").write_bytes(padded_mp4(70 * MIB))
    key = f"temp/{uuid.uuid4().hex}_1796500000_clip.mp4"
    put = sartiq("put", "clip.mp4", key, cwd=tmp_path, env=env)
    assert put.returncode == 0, put.stderr
    with serve_process(tmp_path, port, env=env):
        assert get_once_up(f"{base}/healthz").status_code == 200
        auth = {"Authorization": f"Bearer {issue_token(SECRET, 'webapp')}"}
        answer = httpx.post(
            f"{base}/api/v1/media-resources/ingest",
            headers=auth,
            timeout=120,
            json=ingest_body(f"{base}/_storage/public/{key}", uuid.uuid4(), "video"),
        )
    assert answer.status_code == 413, answer.text
    assert str(60 * MIB) in answer.json()["detail"]


@pytest.mark.parametrize("service", ["embedded"], indirect=True)
def test_embedded_part_urls_cannot_fill_the_disk(service: httpx.Client) -> None:
    """Where the service is the part target, a part URL carries the upload's total (its
    declared size, else its type's cap): a part past what is left is a 413 before or while
    it is read, and nothing of it is kept. (An S3 part URL cannot carry it: the bucket.)"""
    api = service
    created = _create(api, 6 * MIB)
    upload_id, query = created["uploadId"], {"key": created["key"]}

    def url(number: int) -> str:
        return str(api.get(f"{ROOT}/{upload_id}/{number}", params=query).json()["url"])

    def listed() -> list[int]:
        answer = api.get(f"{ROOT}/{upload_id}", params=query)
        assert answer.status_code == 200, answer.text
        return [part["Size"] for part in answer.json()]

    too_big = httpx.put(url(1), content=b"1" * (7 * MIB), timeout=60)
    assert too_big.status_code == 413, too_big.text
    assert "at most 6291456 bytes" in too_big.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: refused while read
        for _ in range(7):
            yield b"1" * MIB

    streamed = httpx.put(url(1), content=chunked(), timeout=60)
    assert streamed.status_code == 413, streamed.text
    assert listed() == []

    first = _put(url(1), b"1" * (5 * MIB))
    assert _put(url(1), b"1" * (5 * MIB)) == first  # sent again: it replaces itself
    past_total = httpx.put(url(2), content=b"2" * (2 * MIB), timeout=60)
    assert past_total.status_code == 413, past_total.text
    assert "at most 1048576 bytes" in past_total.json()["detail"]
    assert listed() == [5 * MIB]
    second = _put(url(2), b"2" * MIB)
    parts = [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
    done = api.post(f"{ROOT}/{upload_id}/complete", params=query, json={"parts": parts})
    assert done.status_code == 200, done.text

    # No declared size: the type's cap (an image's is the 50 MB single-upload limit).
    image = api.post(ROOT, json={"filename": "a.jpg", "type": "image/jpeg", "metadata": {}})
    assert image.status_code == 200, image.text
    iq = {"key": image.json()["key"]}
    part = api.get(f"{ROOT}/{image.json()['uploadId']}/1", params=iq).json()["url"]
    target = httpx.URL(part)
    with socket.create_connection((target.host, target.port), timeout=30) as raw:
        raw.sendall(  # only the headers: a declared length past the cap is refused unread
            f"PUT {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}\r\n"
            f"Content-Length: {MAX_UPLOAD_BYTES + 1}\r\n\r\n".encode()
        )
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]
    assert b" 413 " in status_line, status_line
