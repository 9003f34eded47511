"""``serve`` on a port it cannot have: one line on stderr and exit 1, never a traceback, and
never a second listener sharing a busy port."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from sartiq_storage.testing.moto_server import free_port
from tests.support.serve_process import ENTRY_POINT, get_once_up, kill_hard, serve_process


def run_serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sartiq-storage serve`` through the installed entry point; a serve that starts
    anyway (the old behaviour) is stopped, with its granian workers, after 60 s and fails
    the test."""
    proc = subprocess.Popen(
        [ENTRY_POINT, "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "300"},
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        kill_hard(proc)
        raise AssertionError(f"serve {' '.join(args)} started instead of refusing") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def assert_one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    for word in words:
        assert word in lines[0]


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_one_line(tmp_path: Path, port: str) -> None:
    result = run_serve(tmp_path, "--port", port)
    assert_one_line_error(result, "--port", port)
    assert not (tmp_path / "data").exists()  # refused before anything was set up


def test_a_second_serve_on_a_busy_port_is_refused(tmp_path: Path) -> None:
    port = free_port()
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    with serve_process(first_dir, port) as first:
        assert get_once_up(f"http://127.0.0.1:{port}/healthz", attempts=300).status_code == 200
        result = run_serve(second_dir, "--port", str(port))
        assert_one_line_error(result, str(port), "in use")
        assert first.poll() is None  # the first one keeps serving
        assert get_once_up(f"http://127.0.0.1:{port}/healthz").status_code == 200


def test_a_port_held_by_another_program_is_refused(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = run_serve(tmp_path, "--port", str(port))
    assert_one_line_error(result, str(port), "in use")


def test_an_unknown_host_is_one_line(tmp_path: Path) -> None:
    result = run_serve(tmp_path, "--host", "no-such-host.invalid", "--port", str(free_port()))
    assert_one_line_error(result, "no-such-host.invalid")


def test_a_busy_gateway_port_names_the_gateway_option(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]
        result = run_serve(tmp_path, "--port", str(free_port()), "--s3-gateway-port", str(busy))
    assert_one_line_error(result, str(busy), "in use", "pick another --s3-gateway-port")


@pytest.mark.parametrize("gateway", ["0", "70000"])
def test_a_gateway_port_out_of_range_is_one_line(tmp_path: Path, gateway: str) -> None:
    """``--s3-gateway-port 0`` started the service without any gateway, saying nothing."""
    result = run_serve(tmp_path, "--port", str(free_port()), "--s3-gateway-port", gateway)
    assert_one_line_error(result, "--s3-gateway-port must be between 1 and 65535", gateway)
