"""What every lakeFS route needs: the router with auth, paging, query parameter types."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query

from sartiq_storage.interfaces.http.lakefs.auth import require_user
from sartiq_storage.interfaces.http.lakefs.schemas import MAX_AMOUNT, Pagination

T = TypeVar("T")

Amount = Annotated[
    int, Query(ge=-1, le=1000, description="page size, -1..1000 as lakeFS's spec allows")
]
Path = Annotated[str, Query(description="object path, relative to the ref")]


def authed_router() -> APIRouter:
    return APIRouter(dependencies=[Depends(require_user)])


def clamp(amount: int) -> int:
    """lakeFS takes any amount and serves at most 1000 (100 when unset or non-positive)."""
    return 100 if amount <= 0 else min(amount, MAX_AMOUNT)


def page(
    fetch: Callable[[int], Sequence[T]], amount: int, key: Callable[[T], str]
) -> tuple[list[T], Pagination]:
    """One page from an engine listing: ask for one more than shown to learn ``has_more``."""
    amount = clamp(amount)
    items = list(fetch(amount + 1))
    has_more = len(items) > amount
    items = items[:amount]
    pagination = Pagination(
        has_more=has_more,
        next_offset=key(items[-1]) if has_more and items else "",
        results=len(items),
        max_per_page=MAX_AMOUNT,
    )
    return items, pagination
