"""``serve --s3-gateway-port``: the gateway starts with the service, says where it is, and
stops with it; a port clash is a one-line error before anything is served."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from sartiq_storage.testing.moto_server import free_port
from tests.support.cli import sartiq
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.serve_process import Output, get_once_up, serve_process


def test_the_gateway_starts_and_stops_with_serve(tmp_path: Path) -> None:
    port, gateway_port = free_port(), free_port()
    env = {"DATASETS_ACCESS_KEY_ID": KEY_ID, "DATASETS_SECRET_ACCESS_KEY": SECRET}
    with serve_process(
        tmp_path, port, env={**env, "DATASETS_S3_GATEWAY_PORT": str(gateway_port)}
    ) as proc:
        output = Output(proc)
        output.wait_for(lambda line: f"S3 gateway: http://127.0.0.1:{gateway_port}" in line)
        anonymous = get_once_up(f"http://127.0.0.1:{gateway_port}/", attempts=300)
        assert anonymous.status_code == 403
        assert "<Code>AccessDenied</Code>" in anonymous.text
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{gateway_port}/", timeout=2)


def test_the_gateway_port_must_differ_from_the_api_port() -> None:
    result = sartiq("serve", "--port", "8765", "--s3-gateway-port", "8765")
    assert result.returncode == 1
    assert "--s3-gateway-port" in result.stderr
