from django.apps import AppConfig


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
            extensions.UnitCount("apis", Cap.INVENTORY_VIEW, api_counts_by_unit_path)
        )

        from inventory.audit_vocabulary import register_words

        register_words()
