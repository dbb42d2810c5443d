"""What the audit trail's codes are called on pages: every recorded action has words, changes read
as "field: before → after", digests are cut short."""

from __future__ import annotations

import re

from django.conf import settings

from inventory.services.review import API_WORKFLOW
from portal import audit_vocabulary
from portal.audit_vocabulary import Change, changes


def recorded_actions() -> set[str]:
    """Every action the code records: the audit.record(action="…") literals, and the workflows' moves."""
    codes: set[str] = set()
    for app in ("portal", "inventory", "testing", "incidents"):
        for path in (settings.BASE_DIR / app).rglob("*.py"):
            codes |= set(re.findall(r'\baction="([a-z0-9_]+\.[a-z0-9_]+)"', path.read_text()))
    return codes | {f"{API_WORKFLOW.audit_prefix}.{action}" for action in API_WORKFLOW.actions}


def test_every_recorded_action_has_words_and_a_family():
    actions = recorded_actions()
    assert "api.submit" in actions and "user.login" in actions  # the scan finds them
    assert actions - audit_vocabulary.known_actions() == set()
    families = [
        prefix for _group, options in audit_vocabulary.action_choices()[1:] for prefix, _ in options[:1]
    ]
    assert all(any(a.startswith(f) for f in families) for a in actions), "an action outside every family"


def test_it_shows_what_changed_from_what_to_what():
    assert changes({"status": "draft"}, {"status": "submitted", "note": "Please"}) == [
        Change("Status", "Draft", "Submitted for review"),
        Change("Note", None, "Please"),
    ]


def test_it_leaves_out_empty_new_values_and_unchanged_ones():
    assert changes(None, {"name": "Pay", "description": "", "auth_schemes": []}) == [
        Change("Name", None, "Pay")
    ]
    assert changes({"name": "Pay", "version": "1"}, {"name": "Pay", "version": "2"}) == [
        Change("Version", "1", "2")
    ]


def test_it_shows_what_a_deletion_removed():
    assert changes({"name": "staging", "base_urls": ["https://a", "https://b"]}, None) == [
        Change("Name", "staging", None),
        Change("Base URLs", "https://a, https://b", None),
    ]


def test_it_writes_values_in_words():
    after = {
        "sha256": "ab" * 32,
        "availability_target": "99.900",
        "is_production": True,
        "auth_schemes": ["bearer", "oauth2"],
        "kind": "one_off",
        "mystery_field": "x" * 500,
    }
    shown = {c.field: c.after for c in changes(None, after)}
    assert shown["SHA-256"] == "abababababab…"
    assert shown["Availability target (%)"] == "99.9"
    assert shown["Production"] == "yes"
    assert shown["Authentication"] == "Bearer token / JWT, OAuth 2.0"
    assert shown["Kind"] == "One-off"
    assert shown["Mystery field"] is not None and len(shown["Mystery field"]) <= audit_vocabulary.TEXT_SHOWN


def test_an_unknown_code_is_shown_as_it_is():
    assert audit_vocabulary.action_label("qc.seed") == "qc.seed"
    assert audit_vocabulary.object_type_label("test") == "test"
