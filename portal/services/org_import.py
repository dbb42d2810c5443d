"""Applying an org-chart import plan (see ``portal.engines.hr_export``): all of it or nothing.

Every write goes through ``portal.services`` so each unit, user and membership has its own audit
event, and one ``org_chart.import`` event summarises the run.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower

from portal import audit
from portal.audit import Actor
from portal.engines.hr_export import (
    USERNAME_MAX,
    InvalidOrgChart,
    OrgChartPlan,
    RowError,
    unit_errors,
    username_for,
)
from portal.models import Membership, OrgUnit
from portal.services.org_chart import membership_grant, org_unit_create, user_create

User = get_user_model()
T = TypeVar("T")

# Stays well under every backend's limit on query parameters (SQLite's is the lowest).
_CHUNK = 500


@dataclass(frozen=True)
class OrgChartImportResult:
    units_created: int
    units_existing: int
    users_created: int
    users_existing: int
    memberships_granted: int
    memberships_existing: int
    dry_run: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.units_created or self.users_created or self.memberships_granted)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def existing_unit_parents(slugs: Iterable[str]) -> dict[str, str | None]:
    """{slug: parent slug or None} for those of ``slugs`` already in the portal."""
    out: dict[str, str | None] = {}
    for chunk in _chunks(sorted(set(slugs))):
        out.update(OrgUnit.objects.filter(slug__in=chunk).values_list("slug", "parent__slug"))
    return out


def org_chart_import(
    *, actor: Actor, plan: OrgChartPlan, source: str = "", dry_run: bool = False
) -> OrgChartImportResult:
    """Create the plan's missing units, users and memberships in one transaction.

    Raises ``InvalidOrgChart`` (and writes nothing) if the plan no longer fits the database. With
    ``dry_run`` everything is done, checked by the model validation, and then rolled back.
    """
    with transaction.atomic():
        result = _apply(actor, plan, source)
        if dry_run:
            transaction.set_rollback(True)
            result = OrgChartImportResult(**{**result.__dict__, "dry_run": True})
    return result


def _apply(actor: Actor, plan: OrgChartPlan, source: str) -> OrgChartImportResult:
    where = plan.where
    slugs = {u.slug for u in plan.units} | {u.parent for u in plan.units if u.parent}
    # Checked again here, inside the transaction: the database may have changed since parsing.
    errors = unit_errors(plan.units, existing_unit_parents(slugs), where)
    users_by_email = _existing_users(plan, errors)
    if errors:
        raise InvalidOrgChart(errors)

    units: dict[str, OrgUnit] = {}
    for chunk in _chunks(sorted(slugs)):
        units.update((u.slug, u) for u in OrgUnit.objects.filter(slug__in=chunk))
    units_existing = sum(1 for u in plan.units if u.slug in units)

    units_created = 0
    for planned in plan.units:  # parents come first
        if planned.slug in units:
            continue
        if planned.parent and planned.parent not in units:
            continue  # its parent failed below; that error is already reported
        try:
            units[planned.slug] = org_unit_create(
                actor=actor,
                name=planned.name,
                slug=planned.slug,
                parent=units[planned.parent] if planned.parent else None,
                kind=planned.kind,
            )
        except ValidationError as exc:
            errors.append(RowError(planned.line, f"unit {planned.slug!r}: {_messages(exc)}", where))
            continue
        units_created += 1

    users_existing = len(users_by_email)
    users_created = 0
    new_users = {key: first for key, first in plan.users().items() if key not in users_by_email}
    usernames = free_usernames([first.email for first in new_users.values()])
    for key, first in new_users.items():
        try:
            users_by_email[key] = user_create(
                actor=actor, username=usernames[first.email], email=first.email, password=None
            )
        except ValidationError as exc:
            errors.append(RowError(first.line, f"user {first.email!r}: {_messages(exc)}", where))
            continue
        users_created += 1

    held = _existing_memberships(plan, units, users_by_email)
    granted = 0
    for m in plan.memberships:
        user, unit = users_by_email.get(m.email_key), units.get(m.unit)
        if user is None or unit is None or (user.pk, unit.pk, m.role) in held:
            continue
        try:
            membership_grant(actor=actor, user=user, org_unit=unit, role=m.role)
        except ValidationError as exc:
            errors.append(RowError(m.line, _messages(exc), where))
            continue
        held.add((user.pk, unit.pk, m.role))
        granted += 1

    if errors:
        raise InvalidOrgChart(errors)  # rolls back everything created above

    result = OrgChartImportResult(
        units_created=units_created,
        units_existing=units_existing,
        users_created=users_created,
        users_existing=users_existing,
        memberships_granted=granted,
        memberships_existing=len(plan.memberships) - granted,
    )
    # A re-import that changes nothing leaves no trace, so importing the same file is a true no-op.
    if result.changed:
        audit.record(
            actor=actor,
            action="org_chart.import",
            object_type="org_chart",
            object_id=plan.sha256[:64],
            after={
                "source": source,
                "sha256": plan.sha256,
                "rows": plan.rows,
                "units_created": units_created,
                "users_created": users_created,
                "memberships_granted": granted,
            },
        )
    return result


def _existing_users(plan: OrgChartPlan, errors: list[RowError]) -> dict[str, Any]:
    """{lower-cased email: user} for the plan's emails; two users sharing one email is an error."""
    wanted = plan.users()
    found: dict[str, list[Any]] = defaultdict(list)
    for chunk in _chunks(sorted(wanted)):
        for user in (
            User.objects.annotate(email_key=Lower("email")).filter(email_key__in=chunk).order_by("pk")
        ):
            found[user.email_key].append(user)
    for key, users in found.items():
        if len(users) > 1:
            names = ", ".join(u.get_username() for u in users)
            errors.append(
                RowError(
                    wanted[key].line,
                    f"{wanted[key].email!r} is the email of several users ({names}); fix that in the portal first.",
                    plan.where,
                )
            )
    return {key: users[0] for key, users in found.items() if len(users) == 1}


def _existing_memberships(
    plan: OrgChartPlan, units: dict[str, OrgUnit], users_by_email: dict[str, Any]
) -> set[tuple[int, int, str]]:
    unit_ids = sorted({units[m.unit].pk for m in plan.memberships if m.unit in units})
    user_ids = {u.pk for u in users_by_email.values()}
    held: set[tuple[int, int, str]] = set()
    for chunk in _chunks(unit_ids):
        for user_id, unit_id, role in Membership.objects.filter(org_unit_id__in=chunk).values_list(
            "user_id", "org_unit_id", "role"
        ):
            if user_id in user_ids:
                held.add((user_id, unit_id, role))
    return held


def free_usernames(emails: list[str]) -> dict[str, str]:
    """{email: an unused username derived from it}.

    One query per 500 names, and one more per 500 names that collide (with an account or with each
    other), fetching by prefix every numbered name they could take. Numbering then continues per name
    from where it stopped, with no query per number tried: restarting at 2 for each email would be
    O(n²) for many emails that map to one name, such as ``a!b@x`` and ``a#b@x``.
    """
    wanted = {email: username_for(email) for email in emails}
    bases = sorted(set(wanted.values()))
    taken: set[str] = set()
    for chunk in _chunks(bases):
        taken.update(User.objects.filter(username__in=chunk).values_list("username", flat=True))
    per_base = Counter(wanted.values())
    colliding = [base for base in bases if base in taken or per_base[base] > 1]
    for chunk in _chunks(colliding):
        prefixes = Q()
        for base in chunk:
            prefixes |= Q(username__startswith=base[: USERNAME_MAX - 8])  # room for "-9999999"
        taken.update(User.objects.filter(prefixes).values_list("username", flat=True))
    last_number: dict[str, int] = {}
    out: dict[str, str] = {}
    for email, base in wanted.items():
        candidate = base
        if candidate in taken:
            n = last_number.get(base, 1)
            while candidate in taken:
                n += 1
                suffix = f"-{n}"
                candidate = base[: USERNAME_MAX - len(suffix)] + suffix
            last_number[base] = n
        taken.add(candidate)
        out[email] = candidate
    return out


def _messages(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)
