"""Multipart uploads, on the engine's own public operations.

An upload is a **hidden branch** ``s3-multipart-<upload id>`` made from the target branch:
its ``upload.json`` names the target (branch, path, content type, metadata) and each part is
the staged object ``parts/<number>`` there. Parts are therefore stored in the repository's
namespace like any object (content-addressed), survive restarts, are seen by every worker
process, and are protected from GC while staged. Completing streams the parts in order
into one ``put_object`` on the target branch (the engine hashes the whole), then deletes
the hidden branch; aborting deletes it (its part bytes become garbage for GC). lakeFS's
gateway hands parts to its block adapter instead (S3's own multipart); doing it through the
engine keeps the gateway on any engine and any store, at the price of one more pass over
the bytes when completing.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator

import anyio.to_thread
from starlette.responses import Response

from sartiq_storage.core.datasets.errors import DatasetError
from sartiq_storage.core.datasets.model import Entry
from sartiq_storage.core.multipart import whole_number
from sartiq_storage.interfaces.s3_gateway.common import Call, etag, xml_response
from sartiq_storage.interfaces.s3_gateway.errors import S3Error
from sartiq_storage.interfaces.s3_gateway.objects import copy_source, parse_range
from sartiq_storage.interfaces.s3_gateway.xml import document, element, iso, parse

BRANCH_PREFIX = "s3-multipart-"
MANIFEST = "upload.json"
PARTS = "parts/"
MIN_PART = 5 * 1024 * 1024
MAX_PART_NUMBER = 10_000


def _branch(upload_id: str) -> str:
    return f"{BRANCH_PREFIX}{upload_id}"


def _no_such_upload(call: Call) -> S3Error:
    return S3Error(
        "NoSuchUpload",
        "The specified multipart upload does not exist. The upload ID may be invalid, or the "
        "upload may have been aborted or completed.",
        404,
        resource=call.resource,
    )


async def _manifest(call: Call) -> dict[str, object]:
    upload_id = call.query.get("uploadId", "")
    if not upload_id.isalnum():
        raise _no_such_upload(call)

    def read() -> bytes:
        return b"".join(call.engine.get_object(call.bucket, _branch(upload_id), MANIFEST))

    try:
        manifest: dict[str, object] = json.loads(await anyio.to_thread.run_sync(read))
    except DatasetError:
        raise _no_such_upload(call) from None
    if manifest.get("branch") != call.ref or manifest.get("path") != call.path:
        raise _no_such_upload(call)
    return manifest


async def create(call: Call) -> Response:
    if not call.path:
        raise S3Error("InvalidArgument", "an object key needs a path after the ref", 400)
    await call.branch()
    upload_id = uuid.uuid4().hex
    manifest = json.dumps(
        {
            "branch": call.ref,
            "path": call.path,
            "content_type": call.headers.get("content-type") or None,
            "metadata": call.metadata(),
        }
    ).encode()
    engine = call.engine

    def start() -> None:
        engine.create_branch(call.bucket, _branch(upload_id), call.ref, hidden=True)
        engine.put_object(
            call.bucket, _branch(upload_id), MANIFEST, manifest, content_type="application/json"
        )

    await call.run(start)
    body = document(
        "InitiateMultipartUploadResult",
        [element("Bucket", call.bucket), element("Key", call.key), element("UploadId", upload_id)],
    )
    return xml_response(body)


def _part_number(call: Call) -> int:
    number = whole_number(call.query.get("partNumber", ""), 5)
    if number is None or not 1 <= number <= MAX_PART_NUMBER:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000", 400)
    return number


async def upload_part(call: Call) -> Response:
    number = _part_number(call)
    await _manifest(call)
    branch = _branch(call.query["uploadId"])
    part_path = f"{PARTS}{number:05d}"
    engine = call.engine
    if "x-amz-copy-source" in call.headers:
        repo, ref, path = copy_source(call.headers["x-amz-copy-source"])
        source = await call.run(lambda: engine.stat_object(repo, ref, path))
        span = None
        if "x-amz-copy-source-range" in call.headers:
            span = parse_range(call.headers["x-amz-copy-source-range"], source.size)
        start, end = span if span is not None else (None, None)

        def copy_part() -> Entry:
            chunks = engine.get_object(repo, ref, path, start=start, end=end)
            return engine.put_object(call.bucket, branch, part_path, chunks)

        entry = await call.run(copy_part)
        body = document(
            "CopyPartResult",
            [element("LastModified", iso(entry.mtime)), element("ETag", etag(entry))],
        )
        return xml_response(body)
    entry = await call.write(
        lambda chunks: engine.put_object(call.bucket, branch, part_path, chunks)
    )
    return Response(status_code=200, headers={"ETag": etag(entry)})


def _parts(call: Call, branch: str) -> list[Entry]:
    out: list[Entry] = []
    after = ""
    while True:
        listing = call.engine.list_objects(call.bucket, branch, prefix=PARTS, after=after)
        out += [item for item in listing.items if isinstance(item, Entry)]
        if not listing.has_more:
            return out
        after = listing.next_offset


async def list_parts(call: Call) -> Response:
    await _manifest(call)
    upload_id = call.query["uploadId"]
    marker = whole_number(call.query.get("part-number-marker", "0"))
    max_parts = whole_number(call.query.get("max-parts", "1000"))
    if marker is None or max_parts is None:
        raise S3Error("InvalidArgument", "part-number-marker and max-parts are numbers", 400)
    parts = await call.run(lambda: _parts(call, _branch(upload_id)))
    chosen = [p for p in parts if int(p.path[len(PARTS) :]) > marker]
    page = chosen[: min(max_parts, 1000)]
    truncated = len(chosen) > len(page)
    items = [
        element("Bucket", call.bucket),
        element("Key", call.key),
        element("UploadId", upload_id),
        element("PartNumberMarker", marker),
        element("MaxParts", max_parts),
        element("IsTruncated", truncated),
        "<Initiator><ID>admin</ID><DisplayName>admin</DisplayName></Initiator>",
        "<Owner><ID>admin</ID><DisplayName>admin</DisplayName></Owner>",
        element("StorageClass", "STANDARD"),
    ]
    if page:
        items.append(element("NextPartNumberMarker", int(page[-1].path[len(PARTS) :])))
    for part in page:
        items.append(
            "<Part>"
            + element("PartNumber", int(part.path[len(PARTS) :]))
            + element("LastModified", iso(part.mtime))
            + element("ETag", etag(part))
            + element("Size", part.size)
            + "</Part>"
        )
    return xml_response(document("ListPartsResult", items))


def _requested(body: bytes) -> list[tuple[int, str]]:
    root = parse(body)
    requested = []
    for node in root.findall("Part"):
        number = whole_number((node.findtext("PartNumber") or "").strip())
        if number is None:
            raise S3Error("MalformedXML", "every Part needs a PartNumber", 400)
        requested.append((number, (node.findtext("ETag") or "").strip().strip('"')))
    if not requested:
        raise S3Error("MalformedXML", "You must specify at least one part", 400)
    numbers = [n for n, _ in requested]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise S3Error(
            "InvalidPartOrder",
            "The list of parts was not in ascending order. The parts list must be specified "
            "in order by part number.",
            400,
        )
    return requested


async def complete(call: Call) -> Response:
    manifest = await _manifest(call)
    upload_id = call.query["uploadId"]
    branch = _branch(upload_id)
    requested = _requested(await call.small_body())
    stored = {int(p.path[len(PARTS) :]): p for p in await call.run(lambda: _parts(call, branch))}
    chosen: list[Entry] = []
    for index, (number, tag) in enumerate(requested):
        part = stored.get(number)
        if part is None or (tag and tag != part.checksum):
            raise S3Error(
                "InvalidPart",
                "One or more of the specified parts could not be found. The part may not have "
                "been uploaded, or the specified entity tag may not match the part's entity tag.",
                400,
                resource=call.resource,
            )
        if index < len(requested) - 1 and part.size < MIN_PART:
            raise S3Error(
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
                400,
                resource=call.resource,
            )
        chosen.append(part)
    engine = call.engine
    content_type = manifest.get("content_type")
    metadata = manifest.get("metadata") or {}
    assert isinstance(metadata, dict)

    def assemble() -> Entry:
        chunks: Iterator[bytes] = itertools.chain.from_iterable(
            engine.get_object(call.bucket, branch, part.path) for part in chosen
        )
        entry = engine.put_object(
            call.bucket,
            call.ref,
            call.path,
            chunks,
            content_type=str(content_type) if content_type else None,
            metadata={str(k): str(v) for k, v in metadata.items()},
        )
        engine.delete_branch(call.bucket, branch)
        return entry

    entry = await call.run(assemble)
    body = document(
        "CompleteMultipartUploadResult",
        [
            element("Location", call.resource),
            element("Bucket", call.bucket),
            element("Key", call.key),
            element("ETag", etag(entry)),
        ],
    )
    return xml_response(body)


async def abort(call: Call) -> Response:
    await _manifest(call)
    upload_id = call.query["uploadId"]
    await call.run(lambda: call.engine.delete_branch(call.bucket, _branch(upload_id)))
    return Response(status_code=204)


async def list_uploads(call: Call) -> Response:
    engine = call.engine

    def uploads() -> list[tuple[str, str]]:
        out = []
        for branch in engine.list_branches(
            call.bucket, prefix=BRANCH_PREFIX, amount=1000, show_hidden=True
        ):
            try:
                data = b"".join(engine.get_object(call.bucket, branch.name, MANIFEST))
            except DatasetError:
                continue
            manifest = json.loads(data)
            key = f"{manifest['branch']}/{manifest['path']}"
            out.append((key, branch.name[len(BRANCH_PREFIX) :]))
        return sorted(out)

    found = await call.run(uploads, missing="NoSuchBucket")
    prefix = call.query.get("prefix", "")
    items = [element("Bucket", call.bucket), element("IsTruncated", False)]
    for key, upload_id in found:
        if key.startswith(prefix):
            items.append(
                f"<Upload>{element('Key', key)}{element('UploadId', upload_id)}"
                f"{element('StorageClass', 'STANDARD')}</Upload>"
            )
    return xml_response(document("ListMultipartUploadsResult", items))
