from django.db import migrations, models


class Migration(migrations.Migration):
    """The inventory list's default order, read off an index (measured by bench/inventory_bench.py)."""

    dependencies = [("inventory", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="api",
            index=models.Index(fields=["name", "id"], name="api_name_idx"),
        ),
    ]
