"""The floor of any Python proxy in front of S3: bare Starlette streaming ``GET /{bucket}/{key}``
from the bucket with obstore (the gateway's own S3 client), nothing else.

No signature check, no metadata, no ref: what is left is the second HTTP hop and one more
process. ``bench_s3_gateway`` runs it under the same ASGI server as the gateway
(``bench.bare_proxy:app``), pointed at the bucket by ``BARE_PROXY_*``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import obstore
from obstore.store import S3Store
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

CHUNK = 1024 * 1024

STORE = S3Store(
    bucket=os.environ.get("BARE_PROXY_BUCKET", "bench"),
    endpoint=os.environ.get("BARE_PROXY_ENDPOINT", "http://127.0.0.1:5000"),
    access_key_id=os.environ.get("BARE_PROXY_KEY_ID", "testing"),
    secret_access_key=os.environ.get("BARE_PROXY_SECRET", "testing"),
    region="us-east-1",
    virtual_hosted_style_request=False,
    client_options={"allow_http": True},
)


async def get(request: Request) -> Response:
    result = await obstore.get_async(STORE, request.path_params["key"])  # bucket: ignored
    size = result.meta["size"]
    headers = {"Content-Length": str(size), "ETag": str(result.meta.get("e_tag") or "")}

    async def body() -> AsyncIterator[bytes]:
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    return StreamingResponse(body(), headers=headers, media_type="application/octet-stream")


app = Starlette(routes=[Route("/{bucket}/{key:path}", get)])
