"""On PostgreSQL, the database itself refuses UPDATE and DELETE on audit events.

The application never issues them (AuditEvent.save/delete and its queryset refuse too); the trigger
means even a compromised application account or a stray psql session cannot rewrite history without
first altering the table, which shows up in the database's own logs.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
CREATE TRIGGER portal_auditevent_append_only
    BEFORE UPDATE OR DELETE ON portal_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS portal_auditevent_append_only ON portal_auditevent;
DROP FUNCTION IF EXISTS portal_audit_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        # params=None: the SQL is sent as is (with params, psycopg would read RAISE's '%' as a placeholder).
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def genesis(apps, schema_editor):
    AuditChainHead = apps.get_model("portal", "AuditChainHead")
    AuditChainHead.objects.get_or_create(pk=1, defaults={"last_hash": "0" * 64})


class Migration(migrations.Migration):
    dependencies = [("portal", "0001_initial")]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(genesis, migrations.RunPython.noop),
    ]
