"""The `vocabulary` resource: the enums the pages need (severities in rank order, tracks,
tiers, incident types), so no page keeps its own copy of an ordering."""

from __future__ import annotations

from fastapi import APIRouter

from proctorlake.core.vocabulary import vocabulary as product_vocabulary

router = APIRouter(tags=["vocabulary"])


@router.get("/vocabulary")
def vocabulary() -> dict[str, list[str]]:
    """Every shared enum's values in declaration order (severities lowest first)."""
    return product_vocabulary()
