"""ListBuckets (repositories) and ListObjects V1/V2, laid out as lakeFS's gateway lays them.

Keys are ``{ref}/{path}``. A prefix without a ``/`` (the empty one too) lists **branches**
as common prefixes (``main/``), as lakeFS does; otherwise the engine lists the ref's
objects from the marker on, one page (the engine seeks to the marker: the cost follows the
page, not the branch). Continuation tokens are plain keys, as lakeFS's.
"""

from __future__ import annotations

from urllib.parse import quote

import anyio.to_thread
from starlette.responses import Response

from sartiq_storage.core.datasets.errors import DatasetError, InvalidRefError, NotFoundError
from sartiq_storage.core.datasets.model import Entry, Listing
from sartiq_storage.interfaces.s3_gateway.common import Call, etag, xml_response
from sartiq_storage.interfaces.s3_gateway.errors import S3Error, from_dataset_error
from sartiq_storage.interfaces.s3_gateway.xml import document, element, iso

MAX_KEYS = 1000
OWNER = "<Owner><ID>admin</ID><DisplayName>admin</DisplayName></Owner>"


async def list_buckets(call: Call) -> Response:
    def every() -> list[tuple[str, int]]:
        out, after = [], ""
        while True:
            page = call.engine.list_repositories(after=after, amount=1000)
            out += [(r.name, r.creation_date) for r in page]
            if len(page) < 1000:
                return out
            after = page[-1].name

    repositories = await call.run(every)
    buckets = "".join(
        f"<Bucket>{element('Name', name)}{element('CreationDate', iso(created))}</Bucket>"
        for name, created in repositories
    )
    return xml_response(
        document("ListAllMyBucketsResult", [OWNER, f"<Buckets>{buckets}</Buckets>"])
    )


def _max_keys(call: Call) -> int:
    text = call.query.get("max-keys", "")
    if not text:
        return MAX_KEYS
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise S3Error(
            "InvalidArgument", "Argument maxKeys must be an integer between 0 and 2147483647", 400
        )
    return min(value, MAX_KEYS)


class _Page:
    def __init__(self, encode: bool) -> None:
        self.encode = encode
        self.contents: list[str] = []
        self.prefixes: list[str] = []
        self.truncated = False
        self.last = ""

    def text(self, value: str) -> str:
        return quote(value, safe="/") if self.encode else value

    def add_prefix(self, key: str) -> None:
        self.prefixes.append(
            f"<CommonPrefixes>{element('Prefix', self.text(key))}</CommonPrefixes>"
        )
        self.last = key

    def add_entry(self, key: str, entry: Entry, v1: bool) -> None:
        self.contents.append(
            "<Contents>"
            + element("Key", self.text(key))
            + element("LastModified", iso(entry.mtime))
            + element("ETag", etag(entry))
            + element("Size", entry.size)
            + element("StorageClass", "STANDARD")
            + (OWNER if v1 else "")
            + "</Contents>"
        )
        self.last = key

    @property
    def count(self) -> int:
        return len(self.contents) + len(self.prefixes)


async def _fill(call: Call, page: _Page, prefix: str, start: str, max_keys: int, v1: bool) -> None:
    delimiter = call.query.get("delimiter", "")
    engine = call.engine
    ref, slash, path_prefix = prefix.partition("/")
    if not slash:
        # lakeFS: no path yet, so the "folders" are the branches.
        after = start.rstrip("/") if start else ""
        branches = await call.run(
            lambda: engine.list_branches(call.bucket, prefix=ref, after=after, amount=max_keys + 1),
            missing="NoSuchBucket",
        )
        for branch in branches[:max_keys]:
            page.add_prefix(f"{branch.name}/")
        page.truncated = len(branches) > max_keys
        return
    after = ""
    if start.startswith(f"{ref}/"):
        after = start[len(ref) + 1 :]
    elif start > f"{ref}/":
        # S3 compares the marker with the keys: every key of this ref sorts before it.
        await call.check_bucket()
        return
    if max_keys == 0:
        await call.check_bucket()
        return
    try:
        listing: Listing = await anyio.to_thread.run_sync(
            lambda: engine.list_objects(
                call.bucket,
                ref,
                prefix=path_prefix,
                delimiter=delimiter,
                after=after,
                amount=max_keys,
            )
        )
    except (NotFoundError, InvalidRefError):
        await call.check_bucket()
        return  # a ref that does not exist lists nothing, as on lakeFS
    except DatasetError as exc:
        raise from_dataset_error(exc, resource=call.resource, missing="NoSuchBucket") from exc
    for item in listing.items:
        if isinstance(item, Entry):
            page.add_entry(f"{ref}/{item.path}", item, v1)
        else:
            page.add_prefix(f"{ref}/{item.path}")
    page.truncated = listing.has_more


async def list_objects(call: Call) -> Response:
    list_type = call.query.get("list-type", "1")
    if list_type not in ("1", "2"):
        raise S3Error("InvalidArgument", f"unknown list-type {list_type!r}", 400)
    v1 = list_type == "1"
    encoding = call.query.get("encoding-type", "")
    if encoding not in ("", "url"):
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", 400)
    page = _Page(encode=encoding == "url")
    prefix = call.query.get("prefix", "")
    delimiter = call.query.get("delimiter", "")
    max_keys = _max_keys(call)
    if v1:
        start = call.query.get("marker", "")
    else:
        start = call.query.get("continuation-token") or call.query.get("start-after", "")
    await _fill(call, page, prefix, start, max_keys, v1)
    parts = [
        element("Name", call.bucket),
        element("Prefix", page.text(prefix)),
        element("MaxKeys", max_keys),
        element("IsTruncated", page.truncated),
    ]
    if delimiter:
        parts.append(element("Delimiter", page.text(delimiter)))
    if page.encode:
        parts.append(element("EncodingType", "url"))
    if v1:
        parts.append(element("Marker", page.text(start)))
        if page.truncated and page.last:
            parts.append(element("NextMarker", page.text(page.last)))
    else:
        parts.append(element("KeyCount", page.count))
        if "continuation-token" in call.query:
            parts.append(element("ContinuationToken", call.query["continuation-token"]))
        if "start-after" in call.query:
            parts.append(element("StartAfter", page.text(call.query["start-after"])))
        if page.truncated and page.last:
            parts.append(element("NextContinuationToken", page.last))
    return xml_response(document("ListBucketResult", [*parts, *page.contents, *page.prefixes]))
