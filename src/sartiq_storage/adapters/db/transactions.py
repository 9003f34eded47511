"""Write transactions that start over when a constraint or a concurrent writer got in the way.

The one retry helper for in-process database retry loops (tenacity): races are detected by
the database (a unique index, a serialization failure, a row changed meanwhile), not
prevented by locks, so the loser simply runs its work again on a fresh transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_attempt

from sartiq_storage.adapters.db.engine import Database
from sartiq_storage.core.errors import ConflictError

logger = logging.getLogger(__name__)
_T = TypeVar("_T")
CONFLICTS = (IntegrityError, OperationalError, StaleDataError)
"""A constraint caught a race, the database refused a concurrent write, or a row this
transaction changes was changed or deleted by another one meanwhile (StaleDataError)."""


def run_transaction(db: Database, work: Callable[[Session], _T], *, attempts: int = 8) -> _T:
    """Run ``work`` in a transaction, retrying races the constraints detected.

    Every other error propagates at once (the transaction rolled back). After ``attempts``
    conflicts the caller gets a :class:`ConflictError` (409 over HTTP) with no driver detail:
    the SQL, constraint names and values are for the log, not the caller.
    """
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        retry=retry_if_exception_type(CONFLICTS),
        reraise=False,
    )
    try:
        for attempt in retrying:
            with attempt, db.session() as session:
                return work(session)  # an error instead: recorded by ``attempt``, judged above
    except RetryError as exc:
        last = exc.last_attempt.exception()
        logger.warning("gave up after %d conflicting attempts: %s", attempts, last)
        raise ConflictError(f"gave up after {attempts} conflicting attempts; try again") from None
    raise AssertionError("unreachable: tenacity either returns an attempt's result or raises")
