from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "testing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from portal import extensions
        from portal.access import Cap
        from testing.audit_vocabulary import register_words
        from testing.selectors import testing_summary

        extensions.register(
            extensions.Card(
                "testing", Cap.TESTING_VIEW, "testing/_home_cards.html", testing_summary, order=20
            )
        )
        register_words()
