"""What the audit trail's codes mean to people.

The trail keeps codes (``api.submit``, ``inventory.api``, ``{"status": "submitted"}``); pages show
words ("Submitted for review", "API", "Status: Draft → Submitted for review"). Each app registers its
own words once, from its AppConfig.ready() (portal's are below); a code nobody registered is shown
as it is, never hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from portal.web import figure

_ACTIONS: dict[str, str] = {}  # "api.submit" → "Submitted for review"
_FAMILIES: dict[str, str] = {}  # "api." → "API records": the prefixes the audit log filters by
_OBJECT_TYPES: dict[str, str] = {}  # "inventory.api" → "API"
_FIELDS: dict[str, str] = {}  # "technical_contact_email" → "Contact email"; also the order shown
_VALUES: dict[str, dict[str, str]] = {}  # field → code → label: "status" → "submitted" → "Submitted…"
_FIGURES: set[str] = set()  # fields holding numbers stored as text ("99.900"), shown as figures

# A digest is shown by its first characters only: enough to tell two apart, not a wall of hex.
DIGEST_SHOWN = 12
_DIGEST = re.compile(r"[0-9a-f]{40,}")
TEXT_SHOWN = 200


def register(
    *,
    actions: dict[str, str] | None = None,
    families: dict[str, str] | None = None,
    object_types: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
    values: dict[str, dict[str, str]] | None = None,
    figures: set[str] | frozenset[str] = frozenset(),
) -> None:
    _ACTIONS.update(actions or {})
    _FAMILIES.update(families or {})
    _OBJECT_TYPES.update(object_types or {})
    _FIELDS.update(fields or {})
    for field, labels in (values or {}).items():
        _VALUES.setdefault(field, {}).update(labels)
    _FIGURES.update(figures)


def action_label(code: str) -> str:
    return _ACTIONS.get(code, code)


def object_type_label(code: str) -> str:
    return _OBJECT_TYPES.get(code, code)


def known_actions() -> set[str]:
    return set(_ACTIONS)


def action_choices() -> list[tuple[str, Any]]:
    """The audit log's action filter: each family as a group, first "all of it" (the prefix), then
    its actions. The filter matches by prefix, so a family and a single action work alike."""
    groups: list[tuple[str, Any]] = [("", "Any action")]
    for prefix, family in sorted(_FAMILIES.items(), key=lambda item: item[1].lower()):
        actions = sorted(
            ((code, label) for code, label in _ACTIONS.items() if code.startswith(prefix)),
            key=lambda item: item[1].lower(),
        )
        groups.append((family, [(prefix, f"{family} (all)"), *actions]))
    return groups


def object_type_choices() -> list[tuple[str, str]]:
    return [("", "Any object"), *sorted(_OBJECT_TYPES.items(), key=lambda item: item[1].lower())]


@dataclass(frozen=True)
class Change:
    """One field of an event, as people read it."""

    field: str
    before: str | None  # None when the event records no earlier value (a creation, a new value only)
    after: str | None  # None when the event records only what was there (a deletion)


def field_label(name: str) -> str:
    return _FIELDS.get(name) or name.replace("_", " ").capitalize()


def show_value(field: str, value: Any) -> str:
    """A stored value in words: labels for codes, figures for numbers, short digests, "—" for nothing."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(show_value(field, v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{field_label(k)}: {show_value(k, v)}" for k, v in value.items())
    if isinstance(value, int | float) or field in _FIGURES:
        return figure(value)
    text = str(value)
    if _DIGEST.fullmatch(text):
        return text[:DIGEST_SHOWN] + "…"
    text = _VALUES.get(field, {}).get(text, text)
    return text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"


def _order(names: list[str]) -> list[str]:
    known = {name: i for i, name in enumerate(_FIELDS)}
    return sorted(names, key=lambda name: (known.get(name, len(known)), name))


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[Change]:
    """An event's before/after pictures as one line per field: "before → after" where both are
    recorded, the new value alone where only it is (empty ones left out), the old one alone for a
    deletion. Unchanged fields are left out."""
    before, after = before or {}, after or {}
    out = []
    for name in _order(list(dict.fromkeys([*after, *before]))):
        if name in after and name in before:
            if after[name] == before[name]:
                continue
            out.append(
                Change(field_label(name), show_value(name, before[name]), show_value(name, after[name]))
            )
        elif name in after:
            if after[name] in (None, "", [], {}):
                continue
            out.append(Change(field_label(name), None, show_value(name, after[name])))
        else:
            out.append(Change(field_label(name), show_value(name, before[name]), None))
    return out


# --- The portal's own words -------------------------------------------------------------------------


def register_portal_words() -> None:
    from portal.models import OrgUnit, Role

    register(
        families={
            "user.": "Sign-ins and accounts",
            "api_token.": "API tokens",
            "org_unit.": "Org units",
            "org_chart.": "Org chart imports",
            "membership.": "Roles",
        },
        actions={
            "user.create": "Account created",
            "user.login": "Logged in",
            "user.logout": "Logged out",
            "user.2fa_enrol": "Second factor enrolled",
            "user.2fa_verify": "Second factor proved",
            "user.2fa_recovery_codes": "Recovery codes renewed",
            "user.2fa_replace": "Second factor replaced",
            "user.password_change": "Password changed",
            "user.locked_out": "Locked out after failed logins",
            "api_token.create": "API token created",
            "api_token.revoke": "API token revoked",
            "org_unit.create": "Unit created",
            "org_unit.update": "Unit changed",
            "org_unit.move": "Unit moved",
            "org_unit.delete": "Unit deleted",
            "org_chart.import": "Org chart imported",
            "membership.grant": "Role granted",
            "membership.revoke": "Role revoked",
        },
        object_types={
            "auth.user": "User",
            "portal.apitoken": "API token",
            "portal.orgunit": "Org unit",
            "portal.membership": "Role",
            "org_chart": "Org chart",
        },
        fields={
            "user": "User",
            "username": "Username",
            "email": "Email",
            "role": "Role",
            "unit": "Unit",
            "expires_at": "Expires",
            "method": "Method",
        },
        values={
            "role": dict(Role.choices),
            "kind": dict(OrgUnit.Kind.choices),
            "method": {"totp": "authenticator app", "recovery_code": "recovery code"},
        },
    )
