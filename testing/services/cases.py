"""The owners' functional cases of an API: YAML validated by the cases engine before it is saved.

    cases_save(actor=actor, api=api, name="checkout", source=yaml_text)   # create or replace
    cases_delete(actor=actor, case=case)

``parse_cases`` (``testing.engines.cases``) checks everything it can before anything is sent; a
document it refuses is a ``ValidationError`` on ``source`` that names the line ("Line 12: …"), and
nothing is saved. The cases run with every plan of the API, through the ``functional`` check.
Writing them is for whoever may run the API's tests (``testing.run``: its developers and the
security team). The audit trail records the name, the number of cases and the document's SHA-256,
not the document (it may hold test data).
"""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from inventory.models import Api
from portal import audit
from portal.access import Cap, authorize
from portal.audit import Actor
from testing.engines.cases import CaseError, parse_cases
from testing.models import FunctionalCase

NAME_MAX = FunctionalCase._meta.get_field("name").max_length or 100
MAX_SOURCE_CHARS = 256 * 1024
MAX_DOCUMENTS = 20  # per API (a run reads at most this many)


def _clean(name: str, source: str) -> tuple[str, str, int]:
    name = name.strip() if isinstance(name, str) else ""
    if not name or len(name) > NAME_MAX or not name.isprintable():
        raise ValidationError({"name": f"A name of 1 to {NAME_MAX} characters."})
    if not isinstance(source, str) or not source.strip():
        raise ValidationError({"source": "Paste the cases (YAML)."})
    if len(source) > MAX_SOURCE_CHARS:
        raise ValidationError({"source": f"At most {MAX_SOURCE_CHARS // 1024} KB of YAML."})
    try:
        cases = parse_cases(source)
    except CaseError as exc:
        where = f"Line {exc.line}: " if exc.line else ""
        raise ValidationError({"source": f"{where}{exc.reason}"[:500]}) from None
    if not cases:
        raise ValidationError({"source": "The document holds no case."})
    return name, source, len(cases)


def cases_save(*, actor: Actor, api: Api, name: str, source: str) -> FunctionalCase:
    """Create the API's case document ``name``, or replace its source; audited, one transaction."""
    authorize(actor, Cap.TESTING_RUN, api)
    name, source, count = _clean(name, source)
    digest = hashlib.sha256(source.encode()).hexdigest()
    with transaction.atomic():
        case = FunctionalCase.objects.select_for_update().filter(api=api, name=name).first()
        before = None
        if case is None:
            if FunctionalCase.objects.filter(api=api).count() >= MAX_DOCUMENTS:
                raise ValidationError({"name": f"An API has at most {MAX_DOCUMENTS} case documents."})
            case = FunctionalCase(api=api, name=name)
        else:
            if case.source == source:
                return case
            before = {
                "case_count": case.case_count,
                "sha256": hashlib.sha256(case.source.encode()).hexdigest(),
            }
        case.source, case.case_count = source, count
        case.updated_by, case.updated_at = actor.user, timezone.now()
        case.full_clean()
        case.save()
        audit.record(
            actor=actor,
            action="testing.cases_save",
            obj=case,
            org_unit=api.org_unit,
            before=before,
            after={"name": name, "case_count": count, "sha256": digest},
        )
    return case


@transaction.atomic
def cases_delete(*, actor: Actor, case: FunctionalCase) -> None:
    authorize(actor, Cap.TESTING_RUN, case)
    audit.record(
        actor=actor,
        action="testing.cases_delete",
        obj=case,
        org_unit=case.api.org_unit,
        before={"name": case.name, "case_count": case.case_count},
    )
    case.delete()
