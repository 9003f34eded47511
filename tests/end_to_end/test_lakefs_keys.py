"""Keys made through lakeFS's auth API are the service's, not the process's: made against one
``serve``, they still authenticate after a restart, and a deleted one stays refused."""

from __future__ import annotations

from pathlib import Path

import lakefs_sdk
import pytest
from lakefs_sdk.client import LakeFSClient
from lakefs_sdk.exceptions import UnauthorizedException

from sartiq_storage.testing.moto_server import free_port
from tests.support.lakefs import KEY_ID, SECRET
from tests.support.serve_process import get_once_up, serve_process

ENV = {"DATASETS_ACCESS_KEY_ID": KEY_ID, "DATASETS_SECRET_ACCESS_KEY": SECRET}


def _client(url: str, key_id: str, secret: str) -> LakeFSClient:
    return LakeFSClient(lakefs_sdk.Configuration(host=url, username=key_id, password=secret))


def test_a_rotated_key_outlives_a_restart(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/lakefs/api/v1"
    with serve_process(tmp_path, port, env=ENV):
        get_once_up(f"{url}/healthcheck", attempts=300)
        admin = _client(url, KEY_ID, SECRET)
        admin.auth_api.create_user(lakefs_sdk.UserCreation(id="pipeline"))
        old = admin.auth_api.create_credentials("pipeline")
        new = admin.auth_api.create_credentials("pipeline")
        admin.auth_api.delete_credentials("pipeline", old.access_key_id)

    with serve_process(tmp_path, port, env=ENV):
        get_once_up(f"{url}/healthcheck", attempts=300)
        me = _client(url, new.access_key_id, new.secret_access_key).auth_api.get_current_user()
        assert me.user.id == "pipeline"
        with pytest.raises(UnauthorizedException):
            _client(url, old.access_key_id, old.secret_access_key).auth_api.get_current_user()
        assert _client(url, KEY_ID, SECRET).auth_api.get_current_user().user.id == "admin"
