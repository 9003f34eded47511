"""The storage console: one page at ``/console`` for uploads, media, operations and datasets.

Plain HTML, CSS and JavaScript ES modules (one per view, ``console.js`` the entry), shipped as
package data (``static/``) and served as they are: the browser resolves the imports, so no
build step, no front-end toolchain. The page calls the service's own JSON API
with the bearer token the operator signs in with (``docs/console.md``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from sartiq_storage import __version__
from sartiq_storage.core.sniff import ALLOWED_UPLOAD_TYPES
from sartiq_storage.services.context import StorageContext

CONSOLE_PATH: Final = "/console"
STATIC_DIR: Final = Path(__file__).with_name("static")

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Thumbnails and public URLs come from the CDN or the bucket; uploads go to the bucket.
        "img-src * data: blob:",
        "media-src * blob:",
        "connect-src *",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
"""Every console file: no inline script, no framing, revalidated on each load (ETag)."""


class ConsoleFiles(StaticFiles):
    """The static files, each answered with :data:`SECURITY_HEADERS`."""

    def file_response(
        self,
        full_path: Any,
        stat_result: Any,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(SECURITY_HEADERS)
        return response


router = APIRouter(include_in_schema=False)


@router.get(CONSOLE_PATH)
async def console_root() -> RedirectResponse:
    # Relative, so the page also works behind a proxy that adds a path prefix.
    return RedirectResponse("console/", status_code=308)


@router.get(CONSOLE_PATH + "/config.json")
async def console_config(request: Request) -> dict[str, Any]:
    """What the page checks before asking for an upload URL (the service still decides)."""
    context: StorageContext = request.app.state.context
    return {
        "version": __version__,
        "max_file_size": context.uploads.max_file_size,
        # Videos this large or over max_file_size go in parts (docs/uploads.md), up to this cap.
        "multipart_threshold": context.settings.STORAGE_MULTIPART_THRESHOLD_BYTES,
        "max_video_size": context.multipart.max_video_size,
        "accepted_types": {
            content_type: {"extension": kind.extension, "resource_type": kind.resource_type}
            for content_type, kind in ALLOWED_UPLOAD_TYPES.items()
        },
    }


def install_console(app: FastAPI) -> None:
    """Serve the console at ``/console/`` (``/console`` redirects there)."""
    app.include_router(router)
    app.mount(CONSOLE_PATH, ConsoleFiles(directory=STATIC_DIR, html=True), name="console")
