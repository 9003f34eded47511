"""The AWS CLI (``aws``), run in a subprocess against the S3 gateway as a user runs it.

Every ``awscli`` release pins one exact botocore, and the dev venv pins botocore to the
narrow range s3fs's aiobotocore accepts, so the CLI cannot live in that venv: ``./run test``
installs it in a venv of its own, :data:`DEFAULT_AWS_CLI` (``docs/decisions.md``).
``SARTIQ_AWS_CLI`` names another ``aws`` executable. A test that needs the CLI fails when
``SARTIQ_AWS_CLI`` names nothing runnable (``./run test`` always sets it) or, on CI, when
the CLI is missing; it is skipped only on a developer's plain ``pytest`` run with neither the
variable nor the default venv.

Each :class:`AwsCli` has its own HOME, config and credentials files (nothing from the
developer's ``~/.aws`` or ``AWS_*`` environment reaches it): path-style addressing, a 5 MB
multipart threshold and chunk size (so a multipart transfer stays small), the datasets key
pair as the ``default`` profile and a wrong secret as the ``wrong`` profile.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.lakefs import KEY_ID, SECRET

ENV_VAR = "SARTIQ_AWS_CLI"
DEFAULT_AWS_CLI = Path(__file__).resolve().parents[2] / ".venv" / "tools" / "awscli" / "bin" / "aws"
"""Where ``./run test`` installs the CLI (inside ``.venv``, so git ignores it)."""
MULTIPART = 5 * 1024 * 1024
"""The CLI's multipart threshold and chunk size here (S3's smallest part)."""

CONFIG = f"""\
[default]
region = us-east-1
s3 =
    addressing_style = path
    multipart_threshold = {MULTIPART // (1024 * 1024)}MB
    multipart_chunksize = {MULTIPART // (1024 * 1024)}MB

[profile wrong]
region = us-east-1
s3 =
    addressing_style = path
"""


def aws_executable() -> Path:
    """The ``aws`` to run; fails when ``SARTIQ_AWS_CLI`` names nothing runnable (or on CI
    without one), skips when neither it nor the default venv is there (a developer's plain
    ``pytest``)."""
    named = os.environ.get(ENV_VAR)
    if named:
        path = Path(named)
        if not (path.is_file() and os.access(path, os.X_OK)):
            pytest.fail(
                f"{ENV_VAR}={named} is not an executable `aws`: `./run test` installs the AWS CLI"
                f" at {DEFAULT_AWS_CLI}",
                pytrace=False,
            )
        return path
    if not DEFAULT_AWS_CLI.is_file():
        if os.environ.get("CI"):
            pytest.fail("CI needs the AWS CLI: run `./run test`, which installs it", pytrace=False)
        pytest.skip(
            f"the AWS CLI is not installed: `./run test` installs it at {DEFAULT_AWS_CLI}"
            f" (or set {ENV_VAR} to an `aws` executable)"
        )
    return DEFAULT_AWS_CLI


class AwsCli:
    """``aws`` with a home of its own under ``home``, pointed at ``endpoint``."""

    def __init__(self, executable: Path, home: Path, endpoint: str) -> None:
        self.executable = executable
        self.endpoint = endpoint
        home.mkdir(parents=True, exist_ok=True)
        (home / "config").write_text(CONFIG)
        (home / "credentials").write_text(
            f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n\n"
            f"[wrong]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = not-{SECRET}\n"
        )
        inherited = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TMPDIR")}
        self.env = {
            **inherited,
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }

    def run(
        self, *args: str, check: bool = True, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``aws --endpoint-url <gateway> *args``; with ``check``, a non-zero exit fails the
        test with the CLI's own stderr."""
        result = subprocess.run(
            [str(self.executable), "--endpoint-url", self.endpoint, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=cwd,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            pytest.fail(
                f"aws {' '.join(args)} exited {result.returncode}:\n{result.stderr}",
                pytrace=False,
            )
        return result

    def api(self, *args: str) -> Any:
        """``aws s3api *args`` and its JSON answer."""
        return json.loads(self.run("s3api", *args, "--output", "json").stdout or "null")
