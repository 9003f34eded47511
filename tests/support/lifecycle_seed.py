"""A seeded bucket for sweep tests: objects of known ages in every zone, and upload intents.

Ages are chosen against the development policy (temp/ 1 day, compute/ 3 days, derived/ 30
days). The embedded store is aged for real (file mtimes); S3 objects cannot be backdated, so
:class:`Backdated` reports chosen dates in listings while every call still reaches moto.
"""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import UploadIntent
from sartiq_storage.adapters.stores import LocalStore, ObjectInfo, ObjectStore

DAY = timedelta(days=1)
MEDIA_ID = uuid.UUID("0b6f0f0e-7d1c-4a6e-9d7f-2f1f6c3f9a10")


@dataclass(frozen=True)
class Seeded:
    now: datetime
    due: frozenset[str]
    """Deleted by ``sweep --apply``."""
    spared: frozenset[str]
    """Past retention, but a live intent covers them."""
    kept: frozenset[str]
    """Everything else, never touched."""

    @property
    def all(self) -> frozenset[str]:
        return self.due | self.spared | self.kept


# key, age, intent ("live", "expired", "claimed" or None), expected outcome
SCENARIO: list[tuple[str, timedelta, str | None, str]] = [
    ("temp/a1_1700000000_expired.png", 2 * DAY, None, "due"),
    ("temp/a2_1700000000_fresh.png", timedelta(hours=3), None, "kept"),
    ("temp/a3_1700000000_just-under.png", DAY - timedelta(minutes=1), None, "kept"),
    ("temp/a4_1700000000_live-intent.png", 2 * DAY, "live", "spared"),
    ("temp/a5_1700000000_dead-intent.png", 2 * DAY, "expired", "due"),
    ("temp/a6_1700000000_claimed.png", 2 * DAY, "claimed", "due"),
    ("temp/nested/deep/old.bin", 10 * DAY, None, "due"),
    ("compute/generations/t1/result_0.webp", 4 * DAY, None, "due"),
    ("compute/generations/t2/result_0.webp", 2 * DAY, None, "kept"),
    ("derived/webp/etag1/media/x/file.jpg.webp", 31 * DAY, None, "due"),
    ("derived/webp/etag2/media/y/file.jpg.webp", 29 * DAY, None, "kept"),
    (f"media/{MEDIA_ID}/file.jpg", 400 * DAY, None, "kept"),
    ("images/products/p1/product_p1_SKU_u1_cover.jpg", 400 * DAY, None, "kept"),
    ("images/temp/temp_u2.jpg", 400 * DAY, None, "kept"),
    ("shooting_looks/l1/outfit_l1_u3.jpg", 400 * DAY, None, "kept"),
    ("tempfiles/old.txt", 400 * DAY, None, "kept"),
    ("other/unknown.txt", 400 * DAY, None, "kept"),
]


def seed(
    store: ObjectStore,
    db: Database,
    now: datetime,
    age: Callable[[str, datetime], None],
) -> Seeded:
    """Write every object of the scenario, date it ``now - age``, and record the intents."""
    outcome: dict[str, set[str]] = {"due": set(), "spared": set(), "kept": set()}
    intents: list[UploadIntent] = []
    for key, how_old, intent, expected in SCENARIO:
        store.put(key, f"bytes of {key}".encode(), content_type="application/octet-stream")
        age(key, now - how_old)
        outcome[expected].add(key)
        if intent is not None:
            intents.append(
                UploadIntent(
                    storage_key=key,
                    filename=key.rsplit("_", 1)[-1],
                    content_type="image/png",
                    requester="test",
                    created_at=now - how_old,
                    expires_at=now - DAY if intent == "expired" else now + timedelta(minutes=30),
                    claimed_at=now if intent == "claimed" else None,
                )
            )
    with db.session() as session:
        session.add_all(intents)
    return Seeded(
        now, frozenset(outcome["due"]), frozenset(outcome["spared"]), frozenset(outcome["kept"])
    )


def local_ager(store: LocalStore) -> Callable[[str, datetime], None]:
    """Age an embedded-store object for real: its file's mtime is its last-modified."""

    def age(key: str, when: datetime) -> None:
        path = store.objects / f"{key}."
        os.utime(path, (when.timestamp(), when.timestamp()))

    return age


class Backdated:
    """A real store whose listings report chosen last-modified dates for some keys."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.dates: dict[str, datetime] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def age(self, key: str, when: datetime) -> None:
        self.dates[key] = when

    def list(self, prefix: str = "", *, start_after: str | None = None) -> Iterator[ObjectInfo]:
        for info in self.inner.list(prefix, start_after=start_after):
            when = self.dates.get(info.key)
            yield info if when is None else dataclasses.replace(info, last_modified=when)


def keys(store: ObjectStore) -> set[str]:
    return {info.key for info in store.list("")}
