"""Where the service's log lines go: stderr, as text or one JSON object a line.

``LOG_FORMAT=text`` (the default) reads well in a terminal; ``LOG_FORMAT=json`` is for log
collectors (every field of the access log is a key: ``method``, ``path``, ``status``,
``duration_ms``, ``request_id``, ``sub``; a traceback is ``exc_info``). ``LOG_LEVEL`` applies
to the package's loggers: ``WARNING`` drops the access lines of answered requests but keeps
5xx.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from sartiq_storage.core.config import Settings

ROOT = "sartiq_storage"
_HANDLER_NAME = "sartiq-storage-stderr"


def configure_logging(settings: Settings) -> None:
    """Install one stderr handler on the package's logger (replacing an earlier one)."""
    package = logging.getLogger(ROOT)
    for handler in list(package.handlers):
        if handler.get_name() == _HANDLER_NAME:
            package.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    if settings.LOG_FORMAT == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    package.addHandler(handler)
    package.setLevel(settings.LOG_LEVEL)
    package.propagate = False
