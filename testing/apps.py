from django.apps import AppConfig


class TestingConfig(AppConfig):
    name = "testing"
    default_auto_field = "django.db.models.BigAutoField"
