"""Pages of a list: ``limit`` and ``offset`` in, ``{items, total, limit, offset}`` out."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")
PAGE_MAX = 1000  # a bigger page is refused (422) rather than cut short


class PageParams(BaseModel):
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX, description=f"items per page, at most {PAGE_MAX}")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="items to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Paging = Annotated[PageParams, Depends(_page)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def page_of(items: list[T], total: int, paging: PageParams) -> Page[T]:
    return Page[T](items=items, total=total, limit=paging.limit, offset=paging.offset)


def slice_page(items: list[T], paging: PageParams) -> Page[T]:
    """A page of a list computed whole (small lists: calibrations due, compliance)."""
    return page_of(items[paging.offset : paging.offset + paging.limit], len(items), paging)
