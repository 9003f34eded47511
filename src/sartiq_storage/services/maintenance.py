"""The log of scheduled jobs: what ran when, with its report (``maintenance_runs``)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.adapters.db.models import MaintenanceRun, utcnow


def record(
    db: Database, kind: str, report: dict[str, Any], *, applied: bool, started_at: datetime
) -> None:
    with db.session() as session:
        session.add(
            MaintenanceRun(
                kind=kind,
                started_at=started_at,
                finished_at=utcnow(),
                applied=applied,
                report=json.dumps(report, default=str),
            )
        )


def last(db: Database, kind: str) -> MaintenanceRun | None:
    with db.session() as session:
        return session.scalar(
            select(MaintenanceRun)
            .where(MaintenanceRun.kind == kind)
            .order_by(MaintenanceRun.started_at.desc())
            .limit(1)
        )


def last_report(db: Database, kind: str) -> dict[str, Any] | None:
    run = last(db, kind)
    if run is None:
        return None
    report: dict[str, Any] = json.loads(run.report)
    report["_finished_at"] = run.finished_at.isoformat() if run.finished_at else None
    report["_applied"] = run.applied
    return report


def due(db: Database, kind: str, every: timedelta, *, now: datetime | None = None) -> bool:
    """True when no applied run of ``kind`` started within ``every``."""
    now = now or utcnow()
    with db.session() as session:
        recent = session.scalar(
            select(MaintenanceRun.id)
            .where(
                MaintenanceRun.kind == kind,
                MaintenanceRun.applied.is_(True),
                MaintenanceRun.started_at > now - every,
            )
            .limit(1)
        )
    return recent is None
