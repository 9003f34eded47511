"""``sartiq-storage lifecycle`` as an operator runs it: the installed entry point in a child
process, against moto's S3 server and on the embedded default."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sartiq_storage.adapters.stores import LocalStore
from sartiq_storage.core.config import load_settings
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.moto_server import moto_client, moto_settings
from tests.support.cli import sartiq
from tests.support.lifecycle_seed import keys, local_ager, seed


def test_plan_apply_check_drift_on_s3(s3_endpoint: str, s3_bucket: str) -> None:
    env = {
        **moto_settings(s3_endpoint, s3_bucket),
        "AUTH_JWT_SECRET": "entry-point-secret",
        "ENVIRONMENT": "staging",
        "WEB_APP_ORIGINS": "https://staging.sartiq.com",
    }
    before = sartiq("lifecycle", "check", env=env)
    assert before.returncode == 1, before.stdout + before.stderr
    assert "drift: cors: missing sartiq-web-app" in before.stdout

    planned = sartiq("lifecycle", "plan", "--json", env=env)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout)["in_sync"] is False

    applied = sartiq("lifecycle", "apply", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    client = moto_client(s3_endpoint)
    rules = {
        r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=s3_bucket)["Rules"]
    }
    assert rules["sartiq-expire-temp"]["Expiration"]["Days"] == 1
    assert rules["sartiq-expire-temp"]["Filter"]["Prefix"] == "temp/"
    assert rules["sartiq-expire-compute"]["Expiration"]["Days"] == 7
    cors = client.get_bucket_cors(Bucket=s3_bucket)["CORSRules"]
    assert [c["AllowedOrigins"] for c in cors] == [["https://staging.sartiq.com"]]
    assert "PUT" in cors[0]["AllowedMethods"]

    in_sync = sartiq("lifecycle", "check", env=env)
    assert in_sync.returncode == 0, in_sync.stdout + in_sync.stderr
    assert "matches the staging policy" in in_sync.stdout

    # Someone edits a rule in the dashboard: the next check fails and says which rule.
    changed = [
        {**rule, "Expiration": {"Days": 30}} if rule["ID"] == "sartiq-expire-temp" else rule
        for rule in rules.values()
    ]
    client.put_bucket_lifecycle_configuration(
        Bucket=s3_bucket,
        LifecycleConfiguration={"Rules": changed},  # type: ignore[typeddict-item]
    )
    drifted = sartiq("lifecycle", "check", env=env)
    assert drifted.returncode == 1
    assert "sartiq-expire-temp" in drifted.stdout
    assert "Traceback" not in drifted.stderr


def test_sweep_on_the_embedded_store_deletes_only_what_is_past_retention(
    tmp_path: Path,
) -> None:
    context = build_context(load_settings(), migrate=True)
    store = context.store
    assert isinstance(store, LocalStore)
    seeded = seed(store, context.db, datetime.now(UTC), local_ager(store))
    context.close()

    checked = sartiq("lifecycle", "check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "no lifecycle engine" in checked.stdout

    dry = sartiq("lifecycle", "sweep", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "pass --apply" in dry.stdout
    assert keys(store) == seeded.all

    swept = sartiq("lifecycle", "sweep", "--apply", "--json", cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    assert json.loads(swept.stdout)["totals"]["deleted"] == len(seeded.due)
    assert keys(store) == seeded.kept | seeded.spared
