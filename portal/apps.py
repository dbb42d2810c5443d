from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from axes.signals import user_locked_out  # type: ignore[import-untyped]

        from portal.login_guard import lockout_audit_receiver

        user_locked_out.connect(lockout_audit_receiver, dispatch_uid="portal-audit-lockout")

        from portal.audit_vocabulary import register_portal_words

        register_portal_words()
