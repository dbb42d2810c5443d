from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from inventory.selectors import inventory_summary
        from portal import home
        from portal.access import Cap

        home.register(
            home.Card(
                "inventory", Cap.INVENTORY_VIEW, "inventory/_home_cards.html", inventory_summary, order=10
            )
        )

        from inventory.audit_vocabulary import register_words

        register_words()
