"""What each app contributes to the portal's own pages, so that ``portal`` imports no app.

An app registers in its ``AppConfig.ready()``:

- home-page cards: ``extensions.register(extensions.Card("inventory", Cap.INVENTORY_VIEW,
  "inventory/_home_cards.html", summary))``; ``summary(user)`` returns the card's context in a fixed
  number of queries, scoped to the user; shown only to holders of the capability somewhere;
- org-chart counts: ``extensions.register_unit_count(extensions.UnitCount("apis", Cap.INVENTORY_VIEW,
  counts, label="APIs", url=list_url))``; ``counts(user)`` maps a unit's path to what the user may
  see owned by it, in one query; ``url(unit)`` is the page that lists them (the count links there).
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
    """A count the org chart shows per unit, and where each count leads.

    ``counts(user)`` maps a unit's path to what the user may see owned by that unit itself (the org
    chart adds up each subtree); ``url(unit)`` is the page listing what a unit's count counts (e.g.
    the inventory list filtered by the unit, which includes the units below it); ``label`` names
    the column and the things counted ("APIs").
    """

    key: str
    capability: str
    counts: Callable[[Any], dict[str, int]]
    label: str
    url: Callable[[Any], str]
    order: int = 100


_UNIT_COUNTS: dict[str, UnitCount] = {}


def register_unit_count(count: UnitCount) -> None:
    """Add (or replace, on a re-run of ready()) the count named ``count.key``."""
    _UNIT_COUNTS[count.key] = count


@dataclass(frozen=True)
class VisibleUnitCount:
    """A registered count with its numbers for one user (by unit path, each unit's own)."""

    count: UnitCount
    by_path: dict[str, int]


def unit_counts_for(user: Any) -> list[VisibleUnitCount]:
    """Every registered count the user may see (holds its capability somewhere), in order."""
    caps = capabilities_of(user)
    return [
        VisibleUnitCount(count, count.counts(user))
        for count in sorted(_UNIT_COUNTS.values(), key=lambda c: (c.order, c.key))
        if count.capability in caps
    ]
