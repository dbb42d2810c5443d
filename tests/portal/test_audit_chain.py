"""The audit trail is one hash chain: appended to by services, never forked, and any edit is found.

The tamper tests rewrite rows behind the application's back with raw SQL, as an attacker with
database access would. On PostgreSQL the append-only trigger refuses that, so they switch it off
first (an attacker would have to do the same, which shows in the database's own logs).
"""

# ruff: noqa: S608 -- the raw SQL here is the attack being simulated; table and columns come from the model.
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from portal import audit, tasks
from portal.audit import Actor, ChainProblem, verify_chain
from portal.models import AuditChainHead, AuditEvent, Role
from tests.factories import AuditEventFactory, UserFactory

on_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL only")

TABLE = AuditEvent._meta.db_table


def problems() -> list[ChainProblem]:
    return [item for item in verify_chain() if isinstance(item, ChainProblem)]


def make_events(n: int, *, prefix: str = "test") -> list[AuditEvent]:
    return [
        AuditEventFactory(action=f"{prefix}.event", object_id=str(i), before={"n": i}, after={"n": i + 1})
        for i in range(n)
    ]


@contextmanager
def tampering() -> Iterator[None]:
    """Let raw UPDATE/DELETE through, as someone editing the database directly would."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER portal_auditevent_append_only")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER portal_auditevent_append_only")


def raw(sql: str, params: list | tuple = ()) -> None:
    with tampering(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def set_column(event_id: int, field_name: str, value: object) -> None:
    """Write ``value`` (a Python value, converted the way the ORM would) straight into one row."""
    field = AuditEvent._meta.get_field(field_name)
    raw(
        f"UPDATE {TABLE} SET {field.column} = %s WHERE id = %s",
        [field.get_db_prep_save(value, connection), event_id],
    )


def assert_broken_at(event_id: int) -> str:
    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit_chain")
    message = str(excinfo.value)
    assert f"event #{event_id}" in message
    return message


# --- Services write a valid chain -------------------------------------------------------------------


def test_it_chains_the_events_services_write(org, make_member):
    make_member(Role.AUDITOR, org.division, "audrey")
    make_member(Role.DEVELOPER, org.team, "dev")

    events = list(AuditEvent.objects.order_by("id"))
    actions = [e.action for e in events]
    assert actions.count("org_unit.create") == 7
    assert actions.count("membership.grant") == 2
    assert events[0].prev_hash == audit.GENESIS_HASH
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert list(verify_chain()) == [e.pk for e in events]
    head = AuditChainHead.objects.get()
    assert (head.count, head.last_event_id, head.last_hash) == (len(events), events[-1].pk, events[-1].hash)


def test_it_records_who_did_it_and_where(org):
    user = UserFactory(username="mallory")
    actor = Actor(user=user, ip="192.0.2.7", request_id="req-1")
    event = audit.record(actor=actor, action="test.where", obj=org.team, org_unit=org.team)
    event = AuditEvent.objects.get(pk=event.pk)
    assert (event.actor_id, event.actor_label, event.ip, event.request_id) == (
        user.pk,
        "mallory",
        "192.0.2.7",
        "req-1",
    )
    assert (event.object_type, event.object_id, event.object_label) == (
        "portal.orgunit",
        str(org.team.pk),
        "Team",
    )
    assert (event.org_unit_id, event.org_path) == (org.team.pk, org.team.path)
    assert not problems()


@pytest.mark.parametrize(
    "ip",
    [
        "2001:DB8:0:0:0:0:0:1",  # upper case, not compressed: the database stores 2001:db8::1
        "::ffff:10.0.0.1",  # IPv4-mapped: written differently by Python versions and PostgreSQL
        "::1.2.3.4",  # IPv4-compatible: PostgreSQL prints it dotted, Python does not
        "fe80::1%eth0",  # a zone id, which PostgreSQL's inet cannot store
        "not-an-ip",
    ],
)
@pytest.mark.django_db
def test_it_verifies_events_from_any_spelling_of_an_address(ip: str) -> None:
    audit.record(actor=Actor(ip=ip), action="test.ip", object_type="test")
    make_events(2)
    assert not problems()


@pytest.mark.django_db
def test_it_verifies_before_and_after_values_the_database_normalizes() -> None:
    # jsonb stores numbers as numerics: -0.0 comes back as 0.0 and 1e+100 as an integer.
    values = {
        "negative_zero": -0.0,
        "huge": 1e100,
        "big": 1.5e16,
        "tiny": 1e-7,
        "plain": 2.5,
        "nan": float("nan"),
        "inf": float("-inf"),
        "int": 2**70,
        "nested": [{"b": 1, "a": [None, True, "é"]}],
    }
    audit.record(
        actor=Actor.system("tests"), action="test.json", object_type="test", before=values, after=values
    )
    make_events(1)
    assert not problems()


@pytest.mark.django_db
def test_it_verifies_a_chain_with_appends_landing_during_the_walk() -> None:
    # verify_chain runs beside live writers (the beat task): an event appended after the walk
    # started is newer than what it checks, not evidence of tampering.
    make_events(5)
    walk = verify_chain()
    first = next(walk)
    audit.record(actor=Actor.system("tests"), action="test.late", object_type="test")
    rest = list(walk)
    assert not [item for item in rest if isinstance(item, ChainProblem)]
    assert first not in rest


@pytest.mark.django_db
def test_it_verifies_an_empty_chain() -> None:
    assert list(verify_chain()) == []
    call_command("verify_audit_chain")


# --- Concurrency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", [2, 4])
@pytest.mark.django_db(transaction=True)
def test_it_keeps_one_chain_under_concurrent_appends(threads: int) -> None:
    per_thread = 25
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def append(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(per_thread):
                # Inside a longer transaction, as services do: the head stays locked until commit.
                with transaction.atomic():
                    audit.record(
                        actor=Actor.system(f"thread-{n}"),
                        action="test.concurrent",
                        object_type="test",
                        object_id=f"{n}-{i}",
                    )
        except BaseException as exc:  # noqa: BLE001 -- reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    # Verification runs beside the writers (as the beat task does) and must never cry wolf.
    while any(w.is_alive() for w in workers):
        assert not problems()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    assert errors == []

    total = threads * per_thread
    prev_hashes = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prev_hashes) == total
    assert len(set(prev_hashes)) == total, "two events claim the same predecessor: the chain forked"
    assert not problems()
    assert AuditChainHead.objects.get().count == total
    per_actor = {f"system:thread-{n}": per_thread for n in range(threads)}
    for label, count in per_actor.items():
        assert AuditEvent.objects.filter(actor_label=label).count() == count


# --- Tampering ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_finds_an_altered_row() -> None:
    events = make_events(5)
    raw(f"UPDATE {TABLE} SET action = %s WHERE id = %s", ["test.innocent", events[2].pk])
    message = assert_broken_at(events[2].pk)
    assert "altered" in message


@pytest.mark.django_db
def test_it_finds_a_removed_middle_row() -> None:
    events = make_events(5)
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [events[2].pk])
    message = assert_broken_at(events[3].pk)
    assert f"#{events[1].pk}" in message  # names the last good event, so the gap is located


@pytest.mark.django_db
def test_it_finds_a_removed_newest_row() -> None:
    events = make_events(5)
    raw(f"DELETE FROM {TABLE} WHERE id = %s", [events[-1].pk])
    message = assert_broken_at(events[-1].pk)
    assert "removed" in message


@pytest.mark.django_db
def test_it_finds_all_rows_removed() -> None:
    events = make_events(3)
    raw(f"DELETE FROM {TABLE}")
    assert_broken_at(events[-1].pk)


@pytest.mark.django_db
def test_it_finds_rows_swapped() -> None:
    events = make_events(5)
    a, b = AuditEvent.objects.filter(pk__in=[events[1].pk, events[3].pk]).order_by("id")
    fields = [f for f in AuditEvent._meta.concrete_fields if f.column != "id"]
    sets = ", ".join(f"{f.column} = %s" for f in fields)
    # Through placeholders, since hashes and predecessor hashes are unique.
    set_column(a.pk, "hash", "f" * 64)
    set_column(a.pk, "prev_hash", "e" * 64)
    for target, source in ((b, a), (a, b)):
        values = [f.get_db_prep_save(getattr(source, f.attname), connection) for f in fields]
        raw(f"UPDATE {TABLE} SET {sets} WHERE id = %s", [*values, target.pk])
    assert AuditEvent.objects.get(pk=a.pk).object_id == b.object_id
    assert_broken_at(events[1].pk)


@pytest.mark.django_db
def test_it_finds_a_row_moved_to_a_new_id() -> None:
    events = make_events(5)
    raw(f"UPDATE {TABLE} SET id = %s WHERE id = %s", [events[-1].pk + 100, events[1].pk])
    assert_broken_at(events[2].pk)


def _changed(field_name: str, value: object) -> object:
    """A value different from ``value`` for the field, as small a change as possible."""
    if field_name == "at":
        return value + timedelta(microseconds=1)
    if field_name in ("actor_id", "org_unit_id"):
        return (value or 0) + 1
    if field_name in ("before", "after"):
        return {**value, "n": value["n"] + 1}
    if field_name == "ip":
        return "192.0.2.2"
    if field_name in ("prev_hash", "hash"):
        return ("1" if value[0] != "1" else "2") + value[1:]
    return f"{value}x"


HASHED_FIELDS = [f.name for f in AuditEvent._meta.concrete_fields if f.name != "id"]


@pytest.mark.parametrize("field_name", HASHED_FIELDS)
def test_it_covers_every_field_with_the_hash(org, field_name: str) -> None:
    actor = Actor(user=UserFactory(username="hasher"), ip="192.0.2.1", request_id="req-9")
    audit.record(
        actor=actor, action="test.first", obj=org.team, org_unit=org.team, before={"n": 0}, after={"n": 1}
    )
    target = audit.record(
        actor=actor, action="test.target", obj=org.team, org_unit=org.team, before={"n": 1}, after={"n": 2}
    )
    audit.record(actor=actor, action="test.last", obj=org.team, org_unit=org.team)
    assert not problems()

    set_column(target.pk, field_name, _changed(field_name, getattr(target, field_name)))
    assert_broken_at(target.pk)


def test_it_names_every_field_in_the_hash_test() -> None:
    # A new column must join event_hash (and the list above) or the loop above would not notice.
    assert set(HASHED_FIELDS) == {
        "at", "actor_id", "actor_label", "action", "object_type", "object_id", "object_label",
        "org_unit_id", "org_path", "before", "after", "ip", "request_id", "prev_hash", "hash", "scheme",
    }  # fmt: skip


@pytest.mark.django_db
def test_it_finds_a_rewritten_chain_head() -> None:
    events = make_events(3)
    AuditChainHead.objects.filter(pk=1).update(count=2)
    assert_broken_at(events[-1].pk)


@pytest.mark.django_db
def test_it_finds_a_missing_chain_head() -> None:
    make_events(2)
    AuditChainHead.objects.all().delete()
    with pytest.raises(CommandError, match="chain head"):
        call_command("verify_audit_chain")


# --- The database refuses rewrites ----------------------------------------------------------------


@on_postgres
@pytest.mark.django_db
def test_it_is_refused_by_postgresql_on_raw_update_and_delete() -> None:
    event = make_events(1)[0]
    for sql in (f"UPDATE {TABLE} SET action = 'x' WHERE id = %s", f"DELETE FROM {TABLE} WHERE id = %s"):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
    assert not problems()


@pytest.mark.django_db
def test_it_refuses_edits_through_the_orm() -> None:
    event = make_events(1)[0]
    event.action = "test.changed"
    with pytest.raises(ValidationError):
        event.save()
    with pytest.raises(ValidationError):
        event.delete()
    with pytest.raises(ValidationError):
        AuditEvent.objects.filter(pk=event.pk).update(action="test.changed")
    with pytest.raises(ValidationError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ValidationError), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["action"])
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"
    assert not problems()


def test_it_keeps_the_events_of_a_deleted_user(org, make_member):
    user = make_member(Role.DEVELOPER, org.team, "leaver")
    own = audit.record(actor=Actor(user=user), action="test.by_leaver", object_type="test")
    about = AuditEvent.objects.filter(action="membership.grant").latest("id")
    before = {e.pk: (e.actor_id, e.actor_label, e.hash) for e in AuditEvent.objects.all()}

    user.delete()

    after = {e.pk: (e.actor_id, e.actor_label, e.hash) for e in AuditEvent.objects.all()}
    assert after == before
    assert after[own.pk][1] == "leaver"
    assert about.pk in after
    assert not problems()


# --- The command and the task ---------------------------------------------------------------------


@pytest.mark.django_db
def test_it_reports_an_intact_chain(capsys: pytest.CaptureFixture[str]) -> None:
    make_events(4)
    call_command("verify_audit_chain")
    out = capsys.readouterr().out
    assert "Audit chain intact: 4 events verified (4 hmac-sha256:" in out


@pytest.mark.django_db
def test_it_returns_ok_from_the_task() -> None:
    make_events(3)
    assert tasks.verify_audit_chain() == {"ok": True, "checked": 3}


@pytest.mark.django_db
def test_it_returns_the_problem_from_the_task(caplog: pytest.LogCaptureFixture) -> None:
    events = make_events(3)
    raw(f"UPDATE {TABLE} SET object_id = %s WHERE id = %s", ["99", events[1].pk])
    result = tasks.verify_audit_chain()
    assert result["ok"] is False
    assert result["checked"] == 1
    assert f"event #{events[1].pk}" in result["problem"]
    assert "Audit chain broken" in caplog.text
