"""``serve --s3-gateway-port``: the gateway starts with the service, says where it is, and
stops with it; a port clash is a one-line error before anything is served."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sartiq_storage.testing.moto_server import free_port
from tests.support.cli import sartiq
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.raw_http import answer_head
from tests.support.s3_gateway import running_gateway
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


def _signed_put_headers(endpoint: str, path: str, length: int) -> dict[str, str]:
    """SigV4 headers of a PUT whose payload is not signed (as boto3 sends over TLS)."""
    request = AWSRequest(
        method="PUT",
        url=f"{endpoint}{path}",
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-Length": str(length)},
    )
    S3SigV4Auth(Credentials(KEY_ID, SECRET), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_a_refused_upload_is_answered_before_its_body_is_read(tmp_path: Path) -> None:
    """A PUT with a forged signature (or a signed one refused, whose body is more than the
    gateway drops to keep a connection) is answered at once, saying ``Connection: close``;
    the gateway read up to 16 MiB of a stranger's body before it answered at all."""
    with running_gateway(tmp_path) as gateway:
        host, port = gateway.endpoint.removeprefix("http://").split(":")
        huge = 1 << 30
        forged = {
            "Authorization": "AWS4-HMAC-SHA256 Credential="
            f"{KEY_ID}/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            "x-amz-date": "20260101T000000Z",
            "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
            "Content-Length": str(huge),
        }
        signed = _signed_put_headers(gateway.endpoint, "/no-such-repo/main/a.bin", huge)
        for name, headers, code in [
            ("forged, huge", forged, b"403"),
            ("forged, small", {**forged, "Content-Length": "1000"}, b"403"),
            ("signed, huge", signed, b"404"),
        ]:
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                lines = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                sock.sendall(
                    f"PUT /no-such-repo/main/a.bin HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    f"{lines}\r\n".encode()
                )
                sock.sendall(b"x" * 65536)  # a start of the body, never the rest
                try:
                    head = answer_head(sock)
                except TimeoutError:
                    pytest.fail(f"{name}: no answer while the body was still to come")
            assert head.startswith(b"HTTP/1.1 " + code), (name, head[:300])
            assert b"\r\nconnection: close\r\n" in head.lower(), (name, head[:300])
