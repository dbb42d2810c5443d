import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def backfill_from_audit(apps, schema_editor):
    """Records submitted before this field existed: the last ``api.submit`` event names who and when."""
    Api = apps.get_model("inventory", "Api")
    AuditEvent = apps.get_model("portal", "AuditEvent")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    last: dict[str, tuple[int | None, object]] = {}
    events = AuditEvent.objects.filter(action="api.submit", object_type="inventory.api").order_by("id")
    for object_id, actor_id, at in events.values_list("object_id", "actor_id", "at").iterator():
        last[object_id] = (actor_id, at)
    existing = set(User.objects.filter(pk__in={a for a, _ in last.values() if a}).values_list("pk", flat=True))
    for object_id, (actor_id, at) in last.items():
        if not object_id.isdigit():
            continue
        Api.objects.filter(pk=int(object_id)).update(
            submitted_by_id=actor_id if actor_id in existing else None, submitted_at=at
        )


class Migration(migrations.Migration):
    """Who submitted an API for review, and when: the review's outcome is mailed to them."""

    dependencies = [
        ("inventory", "0002_api_name_idx"),
        ("portal", "0005_token_second_factor"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="api",
            name="submitted_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="api",
            name="submitted_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(backfill_from_audit, migrations.RunPython.noop),
    ]
