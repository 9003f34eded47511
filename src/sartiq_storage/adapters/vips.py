"""pyvips, set up for untrusted bytes: import it from here, never directly.

libvips can load dozens of formats, some through large libraries never meant for hostile
input (SVG through librsvg, PDF, ImageMagick, matrix and CSV text, raw pixels). Every byte we
decode came from a browser, so at import only the loaders of the formats the platform
accepts stay callable, and libvips' own "untrusted" flag blocks the rest if a build adds
more. SVG is therefore not decoded at all: it is refused at ingestion (``core/sniff.py``).
"""

from __future__ import annotations

import pyvips

ALLOWED_LOADERS = (
    "VipsForeignLoadJpeg",
    "VipsForeignLoadPng",
    "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp",
    "VipsForeignLoadHeif",  # HEIC and AVIF
    "VipsForeignLoadTiff",
)


def restrict_loaders() -> None:
    """Block every loader but :data:`ALLOWED_LOADERS` (idempotent)."""
    pyvips.block_untrusted_set(True)
    pyvips.operation_block_set("VipsForeignLoad", True)
    for loader in ALLOWED_LOADERS:
        pyvips.operation_block_set(loader, False)


restrict_loaders()

__all__ = ["ALLOWED_LOADERS", "pyvips", "restrict_loaders"]
