"""``serve`` in a child process for the lakeFS clients, and the object bytes it proxied.

The service exports what its lakeFS object routes carried themselves on ``/metrics``
(``sartiq_storage_lakefs_object_bytes_{received,sent}_total``); with one worker (serve's
default) that is every byte, so a test can show the pre-signed path moves none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import lakefs
import lakefs_sdk
from lakefs_sdk.client import LakeFSClient

from sartiq_storage.testing.moto_server import free_port
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.serve_process import get_once_up, serve_process

_COUNTER = re.compile(
    r"^sartiq_storage_lakefs_object_bytes_(received|sent)_total (\S+)$", re.MULTILINE
)


@dataclass(frozen=True)
class Traffic:
    received: int
    sent: int


@dataclass(frozen=True)
class ServedLakeFS:
    base: str
    backend: str

    @property
    def lakefs(self) -> str:
        return f"{self.base}/lakefs/api/v1"

    def client(self) -> lakefs.Client:
        return lakefs.Client(host=self.lakefs, username=KEY_ID, password=SECRET)

    def sdk(self) -> LakeFSClient:
        config = lakefs_sdk.Configuration(host=self.lakefs, username=KEY_ID, password=SECRET)
        return LakeFSClient(config)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.lakefs, auth=(KEY_ID, SECRET), timeout=60)

    def traffic(self) -> Traffic:
        """The object bytes the lakeFS routes have carried so far."""
        text = httpx.get(f"{self.base}/metrics", timeout=30).text
        found = {name: int(float(value)) for name, value in _COUNTER.findall(text)}
        return Traffic(found["received"], found["sent"])


@contextmanager
def served_lakefs(cwd: Path, backend: str, env: Mapping[str, str]) -> Iterator[ServedLakeFS]:
    """``serve`` with the tests' datasets keys, its URL as the service URL, and ``env``."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = {
        "STORAGE_SERVICE_URL": base,
        "DATASETS_ACCESS_KEY_ID": KEY_ID,
        "DATASETS_SECRET_ACCESS_KEY": SECRET,
        "AUTH_JWT_SECRET": "lakefs-presigned-tests-jwt-secret-0123456789",
        **env,
    }
    with serve_process(cwd, port, env=settings):
        get_once_up(f"{base}/lakefs/api/v1/healthcheck", attempts=200)
        yield ServedLakeFS(base, backend)
