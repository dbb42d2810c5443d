"""The identities a plan calls its API as: checked for shape, encrypted at rest, never shown back.

    identity_set(actor=actor, plan=plan, name="A", kind="basic",
                 secret={"username": "scanner-a", "password": "…"}, object_ids=["42"])
    identity_delete(actor=actor, identity=identity)
    identities_rotate_keys(actor=Actor.system("rotate_identity_keys"))   # after adding a new key

The secret dict is checked structurally per kind here (the keys each kind needs, strings of bounded
length, nothing that could split a header); turning it into headers is the identities engine's job
at run time. What is stored is ``testing.crypto.encrypt({"kind": …, **secret})``; what people see is
``hint``: the kind and a label that is not secret (a user name, a header name, a client id). The
audit trail records the name, kind and hint, never the secret, and so do error messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor
from testing import crypto
from testing.models import IdentityKind, PlanIdentity, TestPlan

K = IdentityKind

MAX_IDENTITIES = 10  # per plan
MAX_VALUE = 4096  # characters of one secret field
MAX_OBJECT_IDS = 50
MAX_OBJECT_ID = 200
MAX_LOGIN_BODY_KEYS = 20
ROTATE_BATCH = 500

# kind → (required fields, optional fields)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    K.BEARER: (("token",), ()),
    K.BASIC: (("username", "password"), ()),
    K.API_KEY: (("header", "value"), ()),
    K.OAUTH2: (("token_url", "client_id", "client_secret"), ("scope",)),
    K.LOGIN: (("path", "body", "token_path"), ("header",)),
}
_HEADER_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _header_name(value: str, field: str) -> None:
    if not value or len(value) > 100 or not set(value) <= _HEADER_CHARS:
        raise ValidationError({"secret": f"{field}: a header name (letters, digits, - and _)."})


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({"secret": f"{field} is required."})
    if len(value) > MAX_VALUE:
        raise ValidationError({"secret": f"{field}: at most {MAX_VALUE} characters."})
    if any(c in value for c in "\r\n\x00"):
        raise ValidationError({"secret": f"{field}: no line breaks."})
    return value


def _url(value: str, field: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValidationError({"secret": f"{field}: an http(s) URL without credentials in it."})


def clean_secret(kind: str, secret: Any) -> dict[str, Any]:
    """The secret of ``kind``, checked for shape (the error messages never repeat a value)."""
    if kind not in FIELDS:
        raise ValidationError({"kind": "Choose a kind of identity."})
    if not isinstance(secret, dict):
        raise ValidationError({"secret": "Give the identity's fields."})
    required, optional = FIELDS[kind]
    unknown = sorted(set(secret) - set(required) - set(optional))
    if unknown:
        shown = ", ".join(str(k)[:30] for k in unknown[:5])
        raise ValidationError({"secret": f"Not a field of this kind of identity: {shown}."})
    cleaned: dict[str, Any] = {}
    for field in (*required, *optional):
        if field not in required and secret.get(field) in (None, ""):
            continue
        value = secret.get(field)
        if kind == K.LOGIN and field == "body":
            if not isinstance(value, dict) or not value or len(value) > MAX_LOGIN_BODY_KEYS:
                raise ValidationError(
                    {"secret": f"body: a JSON object of 1 to {MAX_LOGIN_BODY_KEYS} fields."}
                )
            if len(json.dumps(value)) > MAX_VALUE:
                raise ValidationError({"secret": f"body: at most {MAX_VALUE} characters of JSON."})
            cleaned[field] = value
            continue
        cleaned[field] = _text(value, field)
    if kind == K.API_KEY:
        _header_name(cleaned["header"], "header")
    if kind == K.LOGIN:
        if not cleaned["path"].startswith("/"):
            raise ValidationError({"secret": "path: a path on the API, starting with /."})
        if "header" in cleaned:
            _header_name(cleaned["header"], "header")
    if kind == K.OAUTH2:
        _url(cleaned["token_url"], "token_url")
    if kind == K.BASIC and ":" in cleaned["username"]:
        raise ValidationError({"secret": "username: no colon (HTTP basic cannot carry one)."})
    return cleaned


def hint_for(kind: str, secret: dict[str, Any]) -> str:
    """What people see of an identity: its kind and a label that is not secret."""
    labels: dict[str, str] = {
        K.BASIC: secret.get("username", ""),
        K.API_KEY: secret.get("header", ""),
        K.OAUTH2: secret.get("client_id", ""),
        K.LOGIN: secret.get("path", ""),
    }
    label = labels.get(kind, "")
    kind_label = str(K(kind).label)
    return f"{kind_label} · {label}"[:100] if label else kind_label


def _clean_name(name: Any) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > 30 or not name.isprintable():
        raise ValidationError({"name": "A short name (1 to 30 characters), e.g. A or B."})
    return name


def _clean_object_ids(values: list[Any]) -> list[str]:
    if any(not isinstance(v, str | int) or isinstance(v, bool) for v in values):
        raise ValidationError({"object_ids": "Object ids are strings or numbers."})
    ids = [str(v).strip() for v in values]
    if len(ids) > MAX_OBJECT_IDS or any(not i or len(i) > MAX_OBJECT_ID for i in ids):
        raise ValidationError(
            {"object_ids": f"At most {MAX_OBJECT_IDS} ids of 1 to {MAX_OBJECT_ID} characters each."}
        )
    return list(dict.fromkeys(ids))


def identity_set(
    *,
    actor: Actor,
    plan: TestPlan,
    name: str,
    kind: str,
    secret: dict[str, Any],
    object_ids: Iterable[Any] = (),
) -> PlanIdentity:
    """Create the plan's identity ``name``, or replace its kind, secret and object ids."""
    authorize(actor, Cap.TESTING_MANAGE, plan)
    name = _clean_name(name)
    cleaned = clean_secret(kind, secret)
    ids = _clean_object_ids(list(object_ids)[: MAX_OBJECT_IDS + 1])
    token = crypto.encrypt({"kind": kind, **cleaned})
    hint = hint_for(kind, cleaned)
    now = timezone.now()
    try:
        with transaction.atomic():
            identity = PlanIdentity.objects.select_for_update().filter(plan=plan, name=name).first()
            before = None
            if identity is None:
                if PlanIdentity.objects.filter(plan=plan).count() >= MAX_IDENTITIES:
                    raise ValidationError({"name": f"A plan has at most {MAX_IDENTITIES} identities."})
                identity = PlanIdentity(plan=plan, name=name, created_at=now)
            else:
                before = {"kind": identity.kind, "hint": identity.hint, "object_ids": identity.object_ids}
            identity.kind, identity.secret, identity.hint = kind, token, hint
            identity.object_ids, identity.rotated_at = ids, now
            identity.save()
            audit.record(
                actor=actor,
                action="testing.identity_set",
                obj=identity,
                org_unit=plan.api.org_unit,
                before=before,
                # The secret never enters the trail; that it changed is what the event says.
                after={"name": name, "kind": kind, "hint": hint, "object_ids": ids},
            )
    except IntegrityError:
        raise ValidationError({"name": "Someone else just added an identity with this name."}) from None
    return identity


@transaction.atomic
def identity_delete(*, actor: Actor, identity: PlanIdentity) -> None:
    authorize(actor, Cap.TESTING_MANAGE, identity)
    audit.record(
        actor=actor,
        action="testing.identity_delete",
        obj=identity,
        org_unit=identity.plan.api.org_unit,
        before={"name": identity.name, "kind": identity.kind, "hint": identity.hint},
    )
    identity.delete()


def identity_secret(identity: PlanIdentity) -> dict[str, Any]:
    """The decrypted identity (kind and fields), for the run that uses it; never for display."""
    return crypto.decrypt(identity.secret)


def identities_rotate_keys(*, actor: Actor) -> tuple[int, int]:
    """Re-encrypt every identity with the newest key, a batch per transaction. Returns (rotated,
    unreadable): an identity no configured key opens is left as it is and counted."""
    rotated = unreadable = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                PlanIdentity.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "secret")[:ROTATE_BATCH]
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            changed = []
            for identity in batch:
                try:
                    identity.secret = crypto.rotate(identity.secret)
                except crypto.IdentityKeyError:
                    unreadable += 1
                    continue
                changed.append(identity)
            PlanIdentity.objects.bulk_update(changed, ["secret"])
            rotated += len(changed)
    audit.record(
        actor=actor,
        action="testing.identity_keys_rotate",
        object_type="testing.planidentity",
        object_id="*",
        after={"rotated": rotated, "unreadable": unreadable},
    )
    return rotated, unreadable
