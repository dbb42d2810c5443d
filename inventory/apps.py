from typing import Any
from urllib.parse import urlencode

from django.apps import AppConfig
from django.urls import reverse


def api_list_of_unit(unit: Any) -> str:
    """The inventory list filtered by ``unit`` (the unit and every unit below it)."""
    return f"{reverse('inventory:list')}?{urlencode({'unit': unit.slug})}"


class InventoryConfig(AppConfig):
    name = "inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory.selectors import api_counts_by_unit_path, inventory_summary
        from portal import extensions
        from portal.access import Cap

        extensions.register(
            extensions.Card(
                "inventory", Cap.INVENTORY_VIEW, "inventory/_home_cards.html", inventory_summary, order=10
            )
        )
        extensions.register_unit_count(
            extensions.UnitCount(
                "apis", Cap.INVENTORY_VIEW, api_counts_by_unit_path, label="APIs", url=api_list_of_unit
            )
        )

        from inventory.audit_vocabulary import register_words

        register_words()
