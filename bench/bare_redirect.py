"""The baseline app: bare Starlette answering the same 302 ``/files`` does, a static file, and
a presign route that parses the JSON body and answers a fixed JSON of the same shape.

Used by ``bench_delivery`` and ``bench_load`` under the same ASGI server as ours
(``bench.bare_redirect:app``).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

BASE = os.environ.get("BARE_REDIRECT_BASE", "http://127.0.0.1:8000/_storage/public")
STATIC_DIR = os.environ.get("BARE_STATIC_DIR", ".")


async def files(request: Request) -> Response:
    path = request.path_params["path"]
    return RedirectResponse(
        f"{BASE}/{path}",
        status_code=302,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


PRESIGNED = {
    "upload_url": f"{BASE.rsplit('/', 1)[0]}/objects/temp/0_0_photo.png?expires=0&ct=image%2Fpng"
    "&len=12345&once=1&sig=" + "0" * 64,
    "file_url": f"{BASE}/temp/0_0_photo.png",
    "upload_method": "PUT",
    "upload_headers": {"Content-Type": "image/png", "Content-Length": "12345"},
    "expires_in_seconds": 900,
    "max_file_size": 52428800,
}


async def presign(request: Request) -> Response:
    body = await request.json()
    if not request.headers.get("authorization") or "filename" not in body:
        return JSONResponse({"detail": "no"}, status_code=401)
    return JSONResponse(PRESIGNED)


app = Starlette(
    routes=[
        Route("/files/{path:path}", files),
        Route("/api/v1/uploads/presigned-url", presign, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False)),
    ]
)
