"""identity_set / identity_delete: each kind's shape, encrypted at rest, the hint shown and audited,
the secret never."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from portal.audit import Actor
from portal.models import AuditEvent, Role
from testing import crypto
from testing.engines import identities as engine
from testing.models import PlanIdentity
from testing.services.identities import MAX_IDENTITIES, identity_delete, identity_secret, identity_set
from tests.factories import ApiFactory, EnvironmentFactory
from tests.testing.factories import TestPlanFactory

SECRET = "Sup3r-s3cret-value"


@pytest.fixture
def engineer(org, make_member):
    return make_member(Role.SECURITY_ENGINEER, org.root, "erin")


@pytest.fixture
def plan(org):
    return TestPlanFactory(environment=EnvironmentFactory(api=ApiFactory(org_unit=org.team)))


def _trail() -> str:
    return json.dumps(
        [[e.before, e.after, e.object_label] for e in AuditEvent.objects.all()], ensure_ascii=False
    )


@pytest.mark.parametrize(
    ("kind", "secret", "hint"),
    [
        ("bearer", {"token": SECRET}, "Bearer token"),
        ("basic", {"username": "scanner-a", "password": SECRET}, "HTTP basic · scanner-a"),
        ("api_key", {"header": "X-Api-Key", "value": SECRET}, "API key header · X-Api-Key"),
        (
            "oauth2_client_credentials",
            {"token_url": "https://idp.example.com/token", "client_id": "scanner", "client_secret": SECRET},
            "OAuth2 client credentials · scanner",
        ),
        (
            "login",
            {
                "path": "/login",
                "json": {"user": "a", "password": "{{ secrets.password }}"},
                "token_path": "$.data.token",
                "secrets": {"password": SECRET},
            },
            "Login step · /login",
        ),
    ],
)
def test_it_stores_each_kind_encrypted_and_shows_only_the_hint(engineer, plan, kind, secret, hint):
    identity = identity_set(
        actor=Actor(user=engineer), plan=plan, name="A", kind=kind, secret=secret, object_ids=[42, "abc"]
    )
    identity.refresh_from_db()
    assert SECRET.encode() not in bytes(identity.secret)
    stored = identity_secret(identity)
    # The identities engine's own JSON: what a run hands back to it.
    assert stored == json.loads(engine.to_json(engine.from_json(json.dumps(stored))))
    assert (stored["kind"], stored["name"], stored["object_ids"]) == (kind, "A", ["42", "abc"])
    assert all(stored[k] == v for k, v in secret.items())
    assert (identity.hint, identity.object_ids) == (hint, ["42", "abc"])
    assert SECRET not in _trail() and hint in _trail()


def test_setting_a_name_again_replaces_it_and_deleting_is_audited(engineer, plan):
    actor = Actor(user=engineer)
    identity_set(actor=actor, plan=plan, name="A", kind="bearer", secret={"token": "one"})
    identity = identity_set(
        actor=actor, plan=plan, name="A", kind="basic", secret={"username": "u", "password": SECRET}
    )
    assert PlanIdentity.objects.count() == 1 and identity.kind == "basic"
    assert crypto.decrypt(PlanIdentity.objects.get().secret)["password"] == SECRET
    identity_delete(actor=actor, identity=identity)
    assert not PlanIdentity.objects.exists()
    assert [e.action for e in AuditEvent.objects.filter(action__startswith="testing.").order_by("pk")] == [
        "testing.identity_set",
        "testing.identity_set",
        "testing.identity_delete",
    ]
    assert SECRET not in _trail() and "one" not in json.dumps([e.after for e in AuditEvent.objects.all()])


@pytest.mark.parametrize(
    ("kind", "secret", "field"),
    [
        ("telepathy", {"token": SECRET}, "kind"),
        ("bearer", {}, "secret"),
        ("bearer", {"token": ""}, "secret"),
        ("bearer", {"token": 12345}, "secret"),
        ("bearer", {"token": SECRET, "extra": 1}, "secret"),
        ("bearer", {"token": SECRET, "name": "B"}, "secret"),
        ("bearer", {"token": SECRET + "\r\nX-Evil: 1"}, "secret"),
        ("bearer", {"token": "x" * 9000}, "secret"),
        ("bearer", [SECRET], "secret"),
        ("basic", {"username": "a:b", "password": SECRET}, "secret"),
        ("api_key", {"header": "X Api Key", "value": SECRET}, "secret"),
        (
            "oauth2_client_credentials",
            {"token_url": "ftp://x", "client_id": "c", "client_secret": SECRET},
            "secret",
        ),
        (
            "oauth2_client_credentials",
            {"token_url": "https://u:p@idp.example.com/", "client_id": "c", "client_secret": SECRET},
            "secret",
        ),
        ("login", {"path": "login", "json": {"a": 1}, "token_path": "$.t"}, "secret"),
        ("login", {"path": "/login", "json": {"a": 1}, "token_path": "t"}, "secret"),
        ("login", {"path": "/login", "json": {"p": "{{ secrets.pw }}"}, "token_path": "$.t"}, "secret"),
    ],
)
def test_it_refuses_a_malformed_secret_without_repeating_it(engineer, plan, kind, secret, field):
    with pytest.raises(ValidationError) as caught:
        identity_set(actor=Actor(user=engineer), plan=plan, name="A", kind=kind, secret=secret)
    assert field in caught.value.message_dict
    assert SECRET not in str(caught.value.message_dict)
    assert not PlanIdentity.objects.exists()


def test_it_bounds_names_ids_and_count(engineer, plan):
    actor = Actor(user=engineer)
    for name in ("", "x" * 31, "tab\there", "a b"):
        with pytest.raises(ValidationError):
            identity_set(actor=actor, plan=plan, name=name, kind="bearer", secret={"token": "t"})
    for ids in ([True], [{"id": 1}], ["x" * 201], [str(i) for i in range(51)]):
        with pytest.raises(ValidationError):
            identity_set(
                actor=actor, plan=plan, name="A", kind="bearer", secret={"token": "t"}, object_ids=ids
            )
    for i in range(MAX_IDENTITIES):
        identity_set(actor=actor, plan=plan, name=f"I{i}", kind="bearer", secret={"token": "t"})
    with pytest.raises(ValidationError, match="at most"):
        identity_set(actor=actor, plan=plan, name="one-more", kind="bearer", secret={"token": "t"})


def test_only_testing_managers_set_identities(alice, charlie, engineer, plan):
    with pytest.raises(PermissionDenied):
        identity_set(actor=Actor(user=alice), plan=plan, name="A", kind="bearer", secret={"token": "t"})
    with pytest.raises(Http404):
        identity_set(actor=Actor(user=charlie), plan=plan, name="A", kind="bearer", secret={"token": "t"})
    identity = identity_set(
        actor=Actor(user=engineer), plan=plan, name="A", kind="bearer", secret={"token": "t"}
    )
    with pytest.raises(PermissionDenied):
        identity_delete(actor=Actor(user=alice), identity=identity)
    assert PlanIdentity.objects.count() == 1
