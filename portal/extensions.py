"""What each app contributes to the portal's own pages, so that ``portal`` imports no app.

An app registers in its ``AppConfig.ready()``:

- home-page cards: ``extensions.register(extensions.Card("inventory", Cap.INVENTORY_VIEW,
  "inventory/_home_cards.html", summary))``; ``summary(user)`` returns the card's context in a fixed
  number of queries, scoped to the user; shown only to holders of the capability somewhere;
- org-chart counts: ``extensions.register_unit_count(extensions.UnitCount("apis", Cap.INVENTORY_VIEW,
  counts))``; ``counts(user)`` maps a unit's path to what the user may see under it, in one query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portal.access import capabilities_of


@dataclass(frozen=True)
class Card:
    key: str
    capability: str
    template: str
    context: Callable[[Any], dict[str, Any]]
    order: int = 100


@dataclass(frozen=True)
class RenderedCard:
    key: str
    template: str
    data: dict[str, Any]


_CARDS: dict[str, Card] = {}


def register(card: Card) -> None:
    """Add (or replace, on a re-run of ready()) the card named ``card.key``."""
    _CARDS[card.key] = card


def cards_for(user: Any) -> list[RenderedCard]:
    caps = capabilities_of(user)
    return [
        RenderedCard(card.key, card.template, card.context(user))
        for card in sorted(_CARDS.values(), key=lambda c: (c.order, c.key))
        if card.capability in caps
    ]


@dataclass(frozen=True)
class UnitCount:
    key: str
    capability: str
    counts: Callable[[Any], dict[str, int]]


_UNIT_COUNTS: dict[str, UnitCount] = {}


def register_unit_count(count: UnitCount) -> None:
    _UNIT_COUNTS[count.key] = count


def unit_counts_for(user: Any, key: str) -> dict[str, int] | None:
    """The ``key`` counts by unit path for ``user``, or None when no app provides them or the user
    may not see them."""
    count = _UNIT_COUNTS.get(key)
    if count is None or count.capability not in capabilities_of(user):
        return None
    return count.counts(user)
