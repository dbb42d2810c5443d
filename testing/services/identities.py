"""The identities a plan calls its API as: checked for shape, encrypted at rest, never shown back.

    identity_set(actor=actor, plan=plan, name="A", kind="basic",
                 secret={"username": "scanner-a", "password": "…"}, object_ids=["42"])
    identity_delete(actor=actor, identity=identity)
    identities_rotate_keys(actor=Actor.system("rotate_identity_keys"))   # after adding a new key

The secret dict holds the fields of the identities engine's kind (``testing.engines.identities``:
bearer ``token``; basic ``username``, ``password``; api_key ``header``, ``value``;
oauth2_client_credentials ``token_url``, ``client_id``, ``client_secret``, ``scope``, ``auth``; login
``path``, ``json``, ``token_path``, ``header``, ``method``, ``secrets``) and is validated by that
engine, so what is saved is what a run can use. What is stored is the engine's JSON of the identity
(name and object ids included), encrypted (``testing.crypto``); what people see is ``hint``: the kind
and a label that is not secret (a user name, a header name, a client id, a login path). The audit
trail records the name, kind and hint, never the secret, and so do error messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor
from testing import crypto
from testing.engines import identities as engine
from testing.models import IdentityKind, PlanIdentity, TestPlan
from testing.services.runs import origin_of, plan_base_url

NAME_MAX = PlanIdentity._meta.get_field("name").max_length or 30
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")

K = IdentityKind

MAX_IDENTITIES = 10  # per plan
MAX_OBJECT_IDS = 50
MAX_OBJECT_ID = 200
ROTATE_BATCH = 500
# Set by identity_set from its own arguments, never from the secret dict.
_OWN_FIELDS = frozenset({"kind", "name", "object_ids"})


def clean_secret(
    kind: str, secret: Any, *, name: str = "A", object_ids: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The identity of ``kind`` as the identities engine validates and stores it (``to_json``), or a
    ValidationError on "secret" whose message holds no secret (the engine's messages never do)."""
    if kind not in engine.KINDS or kind not in K.values:
        raise ValidationError({"kind": "Choose a kind of identity."})
    if not isinstance(secret, dict):
        raise ValidationError({"secret": "Give the identity's fields."})
    if set(secret) & _OWN_FIELDS:
        raise ValidationError({"secret": "kind, name and object ids are given apart from the secret."})
    try:
        spec = engine.KINDS[kind](name=name, object_ids=object_ids, **secret)
    except engine.IdentityError as exc:
        raise ValidationError({"secret": str(exc)[:300]}) from None
    except TypeError:
        allowed = sorted(f.name for f in fields(engine.KINDS[kind]) if f.name not in _OWN_FIELDS)
        raise ValidationError(
            {"secret": f"Unknown or missing fields for {kind}; it takes {', '.join(allowed)}."}
        ) from None
    data: dict[str, Any] = json.loads(engine.to_json(spec))
    return data


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
    if not 0 < len(name) <= NAME_MAX or not set(name) <= _NAME_CHARS:
        raise ValidationError(
            {"name": f"A short name (1 to {NAME_MAX} letters, digits, _ or -), e.g. A or B."}
        )
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
    ids = _clean_object_ids(list(object_ids)[: MAX_OBJECT_IDS + 1])
    cleaned = clean_secret(kind, secret, name=name, object_ids=tuple(ids))
    token = crypto.encrypt(cleaned)
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
            identity.origin = origin_of(plan_base_url(plan))
            identity.object_ids, identity.rotated_at = ids, now
            identity.save()
            audit.record(
                actor=actor,
                action="testing.identity_set",
                obj=identity,
                org_unit=plan.api.org_unit,
                before=before,
                # The secret never enters the trail; that it changed is what the event says.
                after={
                    "name": name,
                    "kind": kind,
                    "hint": hint,
                    "object_ids": ids,
                    "origin": identity.origin,
                },
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
