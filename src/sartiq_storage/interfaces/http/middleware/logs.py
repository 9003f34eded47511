"""Where the service's log lines go: stderr, as text or one JSON object a line.

``LOG_FORMAT=text`` (the default) reads well in a terminal; ``LOG_FORMAT=json`` is for log
collectors (every field of the access log is a key: ``method``, ``path``, ``status``,
``duration_ms``, ``request_id``, ``sub``; a traceback is ``exc_info``). ``LOG_LEVEL`` applies
to the package's loggers: ``WARNING`` drops the access lines of answered requests but keeps
5xx.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from sartiq_storage.core.config import Settings
from sartiq_storage.interfaces.http.middleware import access_log
from sartiq_storage.interfaces.http.middleware.access_log import FIELDS, access_message

ROOT = "sartiq_storage"
ACCESS = access_log.logger.name
_HANDLER_NAME = "sartiq-storage-stderr"


class AccessLineWriter:
    """An access line, written exactly as the handler's formatter would write it (same
    timestamp, level, logger name, message and JSON keys) at a fraction of the cost."""

    def __init__(self, stream: TextIO, as_json: bool) -> None:
        self.stream = stream
        self.as_json = as_json
        self._second = -1
        self._since = self._until = 0.0
        self._date = ""
        self._stamp = ""
        self._text_head = ""

    def __call__(
        self, method: str, path: str, status: int, duration_ms: float, rid: str, sub: str | None
    ) -> None:
        # The timestamp as logging.Formatter computes it (asctime, then ",msecs"), rebuilt
        # when the clock leaves the millisecond it was built for, not once per line.
        now = time.time()
        if not self._since <= now < self._until:
            second = int(now)
            milli = int((now - second) * 1000)
            if second != self._second:
                self._second = second
                self._date = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            self._since, self._until = now, second + (milli + 1) / 1000
            self._stamp = f"{self._date},{milli:03d}"
            self._text_head = f"{self._stamp} INFO {ACCESS} "
        if not self.as_json:
            self.stream.write(
                access_message(method, path, status, duration_ms, rid, sub, self._text_head, "\n")
            )
            return
        message = access_message(method, path, status, duration_ms, rid, sub)
        values = (method, path, status, round(duration_ms, 2), rid, sub)
        line = json.dumps(
            {
                "time": self._stamp,
                "level": "INFO",
                "logger": ACCESS,
                "message": message,
                **dict(zip(FIELDS, values, strict=True)),
            }
        )
        self.stream.write(line + "\n")


def reset_logging() -> None:
    """Undo :func:`configure_logging` (tests, benchmarks)."""
    package = logging.getLogger(ROOT)
    for handler in list(package.handlers):
        if handler.get_name() == _HANDLER_NAME:
            package.removeHandler(handler)
    access_log.direct_writer = None


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Install one handler on the package's logger (replacing an earlier one): stderr, or
    ``stream``."""
    reset_logging()
    package = logging.getLogger(ROOT)
    stream = stream or sys.stderr
    access_log.direct_writer = AccessLineWriter(stream, settings.LOG_FORMAT == "json")
    handler = logging.StreamHandler(stream)
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
    # The logging HOWTO's "Optimization": what a line never shows is not collected per record
    # (the caller's frame, thread and process names). One access line per request stays cheap.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    package.setLevel(settings.LOG_LEVEL)
    package.propagate = False
