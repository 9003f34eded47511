"""Concurrent writers to one single slot, over HTTP: every one succeeds, the last commit wins.

On PostgreSQL, 40 parallel ingests into one slot used to answer 23 × 409 whose detail was the
driver's text (``psycopg.errors.UniqueViolation … uq_attachment_slot``): each retried its
insert against the others until it gave up. Writers to one slot now queue on a lock of that
slot, and each replaces the one before.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from sartiq_storage.adapters.db.models import MediaResource, MediaResourceAttachment
from sartiq_storage.services.context import StorageContext
from sartiq_storage.testing.media import image_bytes
from tests.support.asgi import bearer, make_app, make_context
from tests.support.db import postgres_schema_url
from tests.support.error_bodies import leak_in

WRITERS = 40


@pytest.fixture(params=["sqlite", "postgresql"])
def context(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[StorageContext]:
    if request.param == "sqlite":
        context = make_context(monkeypatch, tmp_path)
        yield context
        context.close()
        return
    with postgres_schema_url() as url:
        context = make_context(monkeypatch, tmp_path, DATABASE_URL=url)
        yield context
        context.close()
        context.db.dispose()


def test_parallel_ingests_into_one_slot_all_succeed_and_the_last_wins(
    context: StorageContext,
) -> None:
    app = make_app(context)
    auth = dict([bearer(context)])
    entity = str(uuid.uuid4())
    sources = []
    for i in range(WRITERS):
        upload = context.uploads.presign(f"{i}.png", "image/png", None, requester="race")
        key = upload.file_url.split("/_storage/public/", 1)[1]
        context.store.put(key, image_bytes(seed=1000 + i), content_type="image/png")
        sources.append(upload.file_url)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            body = {"entity_type": "PRODUCT", "entity_id": entity, "slot": "cover_image"}
            return list(
                await asyncio.gather(
                    *(
                        c.post(
                            "/api/v1/media-resources/ingest",
                            json={**body, "media": {"url": url}},
                            headers=auth,
                            timeout=120,
                        )
                        for url in sources
                    )
                )
            )

    replies = asyncio.run(run())
    assert [r.status_code for r in replies] == [201] * WRITERS, [r.text for r in replies]
    created = {r.json()["media_resource"]["id"] for r in replies}
    assert len(created) == WRITERS
    with context.db.session() as session:
        holders = list(session.scalars(select(MediaResourceAttachment)))
        resources = list(session.scalars(select(MediaResource)))
    assert len(holders) == 1  # the slot holds the last commit's resource…
    winner = str(holders[0].media_resource_id)
    assert winner in created
    # …and every replaced one is detached as usual.
    assert sorted(str(r.id) for r in resources if r.detached_at is not None) == sorted(
        created - {winner}
    )


def test_the_error_body_check_catches_driver_text() -> None:
    """The autouse check (``tests/support/error_bodies.py``) sees what the old 409 carried."""
    old = (
        b'{"detail":"gave up after 8 conflicting attempts: (psycopg.errors.UniqueViolation) '
        b'duplicate key value violates unique constraint \\"uq_attachment_slot\\" [SQL: '
        b'INSERT INTO media_resource_attachments (id) VALUES (%(id)s)]"}'
    )
    assert leak_in(409, old) == "psycopg"
    assert leak_in(500, b"Traceback (most recent call last):\n  File ...") is not None
    assert leak_in(409, b'{"detail": "[SQL: INSERT INTO t VALUES (1)]"}') == "INSERT INTO"
    assert leak_in(422, b'{"detail": "select a file from the list"}') is None
    assert leak_in(200, old) is None  # only error answers are checked
