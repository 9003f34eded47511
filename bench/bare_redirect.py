"""The baseline app: bare Starlette answering the same 302 ``/files`` does, and a static file.

Used by ``bench_delivery`` under the same ASGI server as ours (``bench.bare_redirect:app``).
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
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


app = Starlette(
    routes=[
        Route("/files/{path:path}", files),
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False)),
    ]
)
