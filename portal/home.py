"""The home page's cards, contributed by each app: ``portal`` imports no app.

An app registers its cards in its ``AppConfig.ready()``::

    home.register(home.Card("inventory", Cap.INVENTORY_VIEW, "inventory/_home_cards.html", summary))

``summary(user)`` returns the card's context in a fixed number of queries, already scoped to the
user; the card is shown only to users holding ``capability`` somewhere.
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
