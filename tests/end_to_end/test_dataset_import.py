"""Zero-copy import from an S3 prefix (issue 16.3), on moto's server as a real process.

Through lakeFS's import API with the official SDK's ``ImportManager`` (start, status, cancel,
wait) against ``serve``: entries point at the source bucket's objects (external physical
addresses; no byte lands in the repository's bucket), an import survives ``serve`` being
killed mid-way (a restarted one continues from its last saved batch), and the CLI's
``datasets import`` reads ``s3://`` and shows its progress.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import httpx
import lakefs
import pytest
from lakefs.exceptions import ConflictException

from sartiq_storage.datasets import open_engine
from sartiq_storage.services.datasets.imports import ImportSource
from sartiq_storage.testing.moto_server import free_port, make_bucket, moto_client
from tests.support.dataset_buckets import (
    KEY_ID,
    SECRET,
    bucket_environment,
    keys,
    served,
    settings_of,
)
from tests.support.serve_process import ENTRY_POINT, get_once_up, kill_hard, serve_process

FAST = timedelta(milliseconds=50)


@pytest.fixture
def deployment(moto_endpoint: str, tmp_path: Path) -> dict[str, str]:
    content, datasets, source = (make_bucket(moto_endpoint) for _ in range(3))
    return bucket_environment(
        moto_endpoint,
        content,
        tmp_path / "data",
        TEST_DATASETS_BUCKET=datasets,
        TEST_SOURCE_BUCKET=source,
    )


def _fill(endpoint: str, bucket: str, prefix: str, count: int) -> None:
    s3 = moto_client(endpoint)
    for i in range(count):
        s3.put_object(
            Bucket=bucket,
            Key=f"{prefix}{i:05}.json",
            Body=f'{{"i": {i}}}'.encode(),
            ContentType="application/json",
        )


def _repository(client: lakefs.Client, name: str, bucket: str) -> lakefs.Repository:
    return lakefs.repository(name, client=client).create(storage_namespace=f"s3://{bucket}/{name}")


def test_import_manager_imports_an_s3_prefix_by_reference(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    datasets, source = deployment["TEST_DATASETS_BUCKET"], deployment["TEST_SOURCE_BUCKET"]
    _fill(moto_endpoint, source, "shoots/2026/", 12)
    moto_client(moto_endpoint).put_object(Bucket=source, Key="labels.csv", Body=b"i,label\n")
    with served(tmp_path, deployment) as service:
        repo = _repository(service.client, "garments", datasets)
        main = repo.branch("main")
        main.object("shoots/stale.json").upload(data=b"replaced by the import")
        main.commit(message="before")
        manager = (
            main.import_data(commit_message="bring in the shoot", metadata={"by": "test"})
            .prefix(f"s3://{source}/shoots/2026/", destination="shoots/")
            .object(f"s3://{source}/labels.csv", destination="labels.csv")
        )
        import_id = manager.start()
        assert manager.import_id == import_id
        status = manager.wait(poll_interval=FAST)
        assert status.completed
        assert status.error is None
        assert status.ingested_objects == 13
        assert status.commit is not None
        assert status.commit.message == "bring in the shoot"
        assert status.commit.metadata == {"by": "test"}
        assert manager.status().completed

        listed = sorted(o.path for o in main.objects(prefix="shoots/"))
        assert listed == [f"shoots/{i:05}.json" for i in range(12)]
        stat = main.object("shoots/00007.json").stat()
        assert stat.physical_address == f"s3://{source}/shoots/2026/00007.json"
        assert stat.content_type == "application/json"
        assert main.object("shoots/00007.json").reader().read() == b'{"i": 7}'
        assert main.object("labels.csv").reader().read() == b"i,label\n"
        # Zero-copy: the repository's bucket holds its tree files and the one object uploaded
        # before, never the imported bytes.
        assert len(keys(moto_endpoint, datasets, "garments/data/")) == 1

        with pytest.raises(ConflictException):  # lakeFS: a completed import cannot be cancelled
            manager.cancel()


def test_import_sources_must_match_the_deployment(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    settings = settings_of(deployment)
    engine = open_engine(settings)
    content, datasets = deployment["R2_BUCKET_NAME"], deployment["TEST_DATASETS_BUCKET"]
    try:
        engine.create_repository("strict", f"s3://{datasets}/strict")
        from sartiq_storage.datasets import InvalidArgumentError

        for bad, why in [
            ("local://x/", r"\^s3://"),
            (f"s3://{content}/media/", "content bucket"),
            (f"s3://{datasets}/strict/", "repository namespace"),
            (f"s3://{datasets}/", "repository namespace"),
        ]:
            with pytest.raises(InvalidArgumentError, match=why):
                engine.start_import(
                    "strict", "main", [ImportSource("common_prefix", bad, "x/")], message="m"
                )
    finally:
        engine.close()


def test_cancel_stops_a_running_import_before_its_commit(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    datasets, source = deployment["TEST_DATASETS_BUCKET"], deployment["TEST_SOURCE_BUCKET"]
    _fill(moto_endpoint, source, "many/", 300)
    with served(tmp_path, {**deployment, "DATASETS_IMPORT_BATCH": "2"}) as service:
        repo = _repository(service.client, "cancelled", datasets)
        main = repo.branch("main")
        head = main.get_commit().id
        manager = main.import_data(commit_message="never").prefix(
            f"s3://{source}/many/", destination="many/"
        )
        manager.start()
        manager.cancel()
        time.sleep(0.5)
        status = manager.status()
        assert status.completed is False
        assert status.error is not None
        assert status.error.message == "Canceled"
        assert status.ingested_objects < 300
        manager.cancel()  # again: still not completed, so lakeFS marks it once more
        assert repo.branch("main").get_commit().id == head
        assert list(main.objects(prefix="many/")) == []


def test_a_restarted_serve_continues_an_import_a_killed_one_left(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    datasets, source = deployment["TEST_DATASETS_BUCKET"], deployment["TEST_SOURCE_BUCKET"]
    total = 400
    _fill(moto_endpoint, source, "big/", total)
    environment = {**deployment, "DATASETS_IMPORT_BATCH": "4"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    client = lakefs.Client(host=f"{base}/lakefs/api/v1", username=KEY_ID, password=SECRET)
    with serve_process(tmp_path, port, env=environment) as first:
        get_once_up(f"{base}/healthz", attempts=200)
        repo = _repository(client, "resumed", datasets)
        manager = repo.branch("main").import_data(commit_message="survives a restart")
        manager.prefix(f"s3://{source}/big/", destination="big/").start()
        deadline = time.monotonic() + 60
        while (manager.status().ingested_objects or 0) < 8:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        kill_hard(first)  # mid-import: no clean stop, the runner and its lease die
    with serve_process(tmp_path, port, env=environment):
        get_once_up(f"{base}/healthz", attempts=200)
        during = manager.status()
        assert during.completed is False  # running, as lakeFS reports it, until resumed
        assert during.error is None
        assert 8 <= (during.ingested_objects or 0) < total
        status = manager.wait(poll_interval=timedelta(milliseconds=200))
        assert status.completed
        assert status.ingested_objects == total
        main = repo.branch("main")
        paths = [o.path for o in main.objects(prefix="big/")]
        assert paths == [f"big/{i:05}.json" for i in range(total)]
        assert main.object("big/00399.json").reader().read() == b'{"i": 399}'
        assert [c.message for c in main.log(max_amount=3)][:1] == ["survives a restart"]


def test_the_cli_imports_an_s3_prefix_with_progress_and_resumes(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    datasets, source = deployment["TEST_DATASETS_BUCKET"], deployment["TEST_SOURCE_BUCKET"]
    _fill(moto_endpoint, source, "cli/", 30)
    settings = settings_of(deployment)
    engine = open_engine(settings)
    try:
        engine.create_repository("viacli", f"s3://{datasets}/viacli")
        engine.create_branch("viacli", "second", "main")
        pending = engine.start_import(
            "viacli",
            "second",
            [ImportSource("common_prefix", f"s3://{source}/cli/", "again/")],
            message="resumed by the CLI",
        )
    finally:
        engine.close()
    env = {**os.environ, **deployment, "COLUMNS": "300"}
    run = subprocess.run(
        [
            ENTRY_POINT,
            "datasets",
            "import",
            "viacli",
            "main",
            f"s3://{source}/cli/",
            "--dest",
            "raw/",
            "--batch",
            "10",
            "-m",
            "from the cli",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "imported 30 object(s) into viacli/main/raw/" in run.stdout
    steps = [line for line in run.stderr.splitlines() if line.startswith("ingested ")]
    assert steps[:3] == [
        "ingested 10 object(s) (running)",
        "ingested 20 object(s) (running)",
        "ingested 30 object(s) (running)",
    ]
    assert steps[-1] == "ingested 30 object(s) (completed)"

    resumed = subprocess.run(
        [ENTRY_POINT, "datasets", "import", "viacli", "second", "--resume", pending],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "imported 30 object(s)" in resumed.stdout

    refused = subprocess.run(
        [ENTRY_POINT, "datasets", "import", "viacli", "main", "local://x/"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "^s3://" in refused.stderr

    engine = open_engine(settings)
    try:
        listed = engine.list_objects("viacli", "main", prefix="raw/", amount=100)
        assert len(listed.items) == 30
        assert engine.log("viacli", "second")[0].message == "resumed by the CLI"
    finally:
        engine.close()


def test_an_import_lands_on_a_protected_branch_as_on_lakefs(
    moto_endpoint: str, deployment: dict[str, str], tmp_path: Path
) -> None:
    """lakeFS's import commits without the protection check writes and commits have (its
    graveler ``Import``), as merges do: a protected ``main`` is where imports usually go."""
    datasets, source = deployment["TEST_DATASETS_BUCKET"], deployment["TEST_SOURCE_BUCKET"]
    _fill(moto_endpoint, source, "drop/", 2)
    with served(tmp_path, deployment) as service:
        repo = _repository(service.client, "guarded", datasets)
        main = repo.branch("main")
        protect = httpx.put(
            f"{service.lakefs}/repositories/guarded/settings/branch_protection",
            json=[{"pattern": "main"}],
            auth=(KEY_ID, SECRET),
        )
        assert protect.status_code == 204, protect.text
        status = (
            main.import_data(commit_message="drop")
            .prefix(f"s3://{source}/drop/", destination="drop/")
            .run(poll_interval=FAST)
        )
        assert status.completed
        assert status.ingested_objects == 2
        assert sorted(o.path for o in main.objects()) == ["drop/00000.json", "drop/00001.json"]
