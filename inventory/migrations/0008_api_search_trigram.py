"""Trigram indexes for the inventory search (``?q=``) on PostgreSQL.

The search is ``icontains`` on name, slug and description. Django writes it on PostgreSQL as
``UPPER("col"::text) LIKE UPPER('%term%')``, which no btree can serve, so a search that matches
nothing read every row. A GIN index with ``gin_trgm_ops`` on the same ``UPPER(...)`` expression
serves any ``LIKE '%…%'`` of three characters or more: the three conditions become a BitmapOr of
index scans.

PostgreSQL only: ``TrigramExtension`` (``CREATE EXTENSION pg_trgm``; a trusted extension since
PostgreSQL 13, so the database owner may create it) does nothing on other databases, and the indexes
are created by ``RunPython`` only when the connection is PostgreSQL. They are not in the model's
state (``Meta.indexes``): SQLite rebuilds tables from that state and would try to create a GIN
index. On SQLite the search stays a plain ``LIKE``.
"""

from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.functions import Upper

SEARCHED = ("name", "slug", "description")


def _indexes():
    return [
        GinIndex(OpClass(Upper(column), name="gin_trgm_ops"), name=f"api_{column}_trgm_idx")
        for column in SEARCHED
    ]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    api = apps.get_model("inventory", "Api")
    for index in _indexes():
        schema_editor.add_index(api, index)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    api = apps.get_model("inventory", "Api")
    for index in _indexes():
        schema_editor.remove_index(api, index)


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0007_field_limits_on_models"),
    ]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create, drop, elidable=False),
    ]
