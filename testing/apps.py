from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "testing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from testing.audit_vocabulary import register_words

        register_words()
