"""The audit chain against someone who can write the database but does not hold AUDIT_HMAC_KEY.

They can append rows, rewrite every row and reset the head, or truncate the table. The keyed hash
(the key lives outside the database), the ban on unkeyed rows after keyed ones, the TRUNCATE trigger
and anchors exported outside the database catch each of these.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from portal import audit, tasks
from portal.audit import Actor
from portal.models import AuditChainHead, AuditEvent

pytestmark = pytest.mark.django_db
on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")


def make_events(n: int) -> list[AuditEvent]:
    return [
        audit.record(actor=Actor.system("tests"), action="test.event", object_type="test", object_id=str(i))
        for i in range(n)
    ]


def forge(*, scheme: str, key: bytes | None = None, action: str = "user.grant_superuser") -> AuditEvent:
    """Append a row the way a database-level attacker would: recompute its hash and move the head."""
    head = AuditChainHead.objects.get(pk=1)
    event = AuditEvent(
        at=timezone.now(), actor_label="attacker", action=action, object_type="auth.user",
        object_id="1", prev_hash=head.last_hash, scheme=scheme,
    )  # fmt: skip
    payload = audit._payload(event, head.last_hash)
    if key is None:
        event.hash = hashlib.sha256(audit._canonical(payload).encode()).hexdigest()
    else:
        payload["scheme"] = scheme
        event.hash = hmac.new(key, audit._canonical(payload).encode(), hashlib.sha256).hexdigest()
    event.save(force_insert=True)
    AuditChainHead.objects.filter(pk=1).update(
        last_event_id=event.pk, last_hash=event.hash, count=head.count + 1
    )
    return event


def broken(**options: object) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_chain", **options)
    return str(excinfo.value)


def test_events_are_keyed_with_the_configured_key(settings):
    event = make_events(1)[0]
    assert event.scheme == audit.HMAC_PREFIX + audit.key_id(settings.AUDIT_HMAC_KEY.encode())
    plain = hashlib.sha256(audit._canonical(audit._payload(event, event.prev_hash)).encode()).hexdigest()
    assert event.hash != plain


def test_a_forged_row_with_a_recomputed_plain_hash_is_found():
    make_events(3)
    forged = forge(scheme=audit.LEGACY_SCHEME)
    message = broken()
    assert f"event #{forged.pk}" in message and "unkeyed event where only keyed ones may be" in message


def test_a_forged_row_keyed_with_a_guessed_key_is_found(settings):
    make_events(2)
    # Even claiming the real key's id does not help without the key itself.
    forged = forge(scheme=audit.current_scheme(), key=b"a key the attacker made up, 32+ chars")
    assert f"event #{forged.pk}" in broken()


def test_a_whole_chain_rehashed_without_the_key_is_found(settings):
    events = make_events(3)
    # The attacker rewrites the chain from the start under a key of their own.
    attacker_key = b"attacker-key-attacker-key-attacker-key"
    settings.AUDIT_HMAC_KEY = attacker_key.decode()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_append_only")
        cursor.execute("DELETE FROM portal_auditevent")
    AuditChainHead.objects.filter(pk=1).update(last_event_id=0, last_hash=audit.GENESIS_HASH, count=0)
    make_events(3)
    settings.AUDIT_HMAC_KEY = settings.AUDIT_HMAC_KEY_REAL
    message = broken()
    assert "signed with another key" in message
    assert events  # the originals are gone; what remains does not verify under the real key


@pytest.fixture(autouse=True)
def _remember_real_key(settings):
    settings.AUDIT_HMAC_KEY_REAL = settings.AUDIT_HMAC_KEY


def test_events_from_before_the_key_still_verify_and_the_command_names_both_schemes(capsys):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_append_only")
        # What an older portal wrote: plain SHA-256 rows.
        for i in range(2):
            forge(scheme=audit.LEGACY_SCHEME, action=f"old.event.{i}")
    make_events(2)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "4 events verified (2 sha256, 2 hmac-sha256:" in out


def test_a_truncated_table_with_its_head_reset_is_found_by_an_anchor(tmp_path: Path):
    make_events(5)
    anchor = tmp_path / "anchors.jsonl"
    anchor.write_text(audit.anchor_line() + "\n")
    call_command("verify_audit_chain", anchor=anchor)  # intact and matching
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_append_only")
        cursor.execute("DELETE FROM portal_auditevent")  # what TRUNCATE would do, trigger aside
    AuditChainHead.objects.filter(pk=1).update(last_event_id=0, last_hash=audit.GENESIS_HASH, count=0)
    call_command("verify_audit_chain")  # an empty chain is consistent with itself…
    message = broken(anchor=anchor)  # …but not with what was exported before
    assert "is gone" in message


def test_a_rewritten_anchored_event_is_found(tmp_path: Path):
    events = make_events(3)
    anchor = tmp_path / "anchors.jsonl"
    line = json.loads(audit.anchor_line())
    line["hash"] = "0" * 64
    anchor.write_text(json.dumps(line) + "\n")
    assert f"event #{events[-1].pk} has another hash" in broken(anchor=anchor)


def test_a_malformed_anchor_file_is_refused(tmp_path: Path):
    anchor = tmp_path / "anchors.jsonl"
    anchor.write_text('{"event_id": 1}\n')
    assert "line 1 is not an anchor" in broken(anchor=anchor)


def test_beat_exports_the_head_to_the_anchor_file(settings, tmp_path: Path):
    settings.AUDIT_ANCHOR_FILE = str(tmp_path / "out" / "anchors.jsonl")
    events = make_events(2)
    tasks.audit_anchor_export()
    tasks.audit_anchor_export()
    lines = Path(settings.AUDIT_ANCHOR_FILE).read_text().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[-1])["event_id"] == events[-1].pk
    call_command("verify_audit_chain", anchor=Path(settings.AUDIT_ANCHOR_FILE))


@on_postgres
def test_postgresql_refuses_to_truncate_the_audit_tables():
    make_events(1)
    with connection.cursor() as cursor:
        # The test set-up turns this trigger off so Django can flush test databases; turn it back on.
        cursor.execute("ALTER TABLE portal_auditevent ENABLE TRIGGER portal_auditevent_no_truncate")
        cursor.execute("ALTER TABLE portal_auditchainhead ENABLE TRIGGER portal_auditchainhead_no_truncate")
        for table in ("portal_auditevent", "portal_auditchainhead"):
            with pytest.raises(DatabaseError, match="cannot be truncated"), transaction.atomic():
                cursor.execute(f"TRUNCATE {table} CASCADE")
    assert AuditEvent.objects.count() == 1


def test_a_chain_rewritten_wholesale_as_plain_sha256_is_found_once_the_marker_is_set(settings):
    make_events(3)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE portal_auditevent DISABLE TRIGGER portal_auditevent_append_only")
        cursor.execute("DELETE FROM portal_auditevent")
    AuditChainHead.objects.filter(pk=1).update(last_event_id=0, last_hash=audit.GENESIS_HASH, count=0)
    forged = [forge(scheme=audit.LEGACY_SCHEME, action=f"rewritten.{i}") for i in range(3)]
    call_command("verify_audit_chain")  # without the marker, an all-plain chain looks like an old one
    settings.AUDIT_LEGACY_UNTIL = 0  # this installation has been keyed from the start
    assert f"event #{forged[0].pk}" in broken()


def test_the_command_says_which_marker_to_set(capsys, settings):
    settings.AUDIT_LEGACY_UNTIL = None
    make_events(1)
    call_command("verify_audit_chain")
    assert "Set AUDIT_LEGACY_UNTIL=0" in capsys.readouterr().out
