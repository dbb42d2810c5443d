"""Testing's words for the audit trail (see ``portal.audit_vocabulary``), registered from
``TestingConfig.ready()``."""

from __future__ import annotations

from portal import audit_vocabulary


def register_words() -> None:
    from testing.models import FindingStatus, IdentityKind, RunTrigger, ScheduleKind, Severity

    audit_vocabulary.register(
        families={"testing.": "Testing", "finding.": "Findings"},
        actions={
            "testing.plan_create": "Test plan created",
            "testing.plan_default": "Default test plan created by the scheduler",
            "testing.plan_save": "Test plan saved",
            "testing.run_requested": "Test run requested",
            "testing.identity_set": "Scanner identity set",
            "testing.identity_delete": "Scanner identity deleted",
            "testing.identity_keys_rotate": "Identity keys rotated",
            "testing.cases_save": "Functional cases saved",
            "testing.cases_delete": "Functional cases deleted",
            # The findings workflow (testing.services.findings.FINDING_WORKFLOW), as done.
            "finding.accept_risk": "Risk accepted",
            "finding.mark_false_positive": "Marked as false positive",
            "finding.reopen": "Reopened",
            "finding.resolve": "Resolved by a run",
            "finding.regress": "Seen again after it was resolved",
            "finding.expire": "Risk acceptance expired",
        },
        object_types={
            "testing.testplan": "Test plan",
            "testing.testrun": "Test run",
            "testing.planidentity": "Scanner identity",
            "testing.functionalcase": "Functional cases",
            "testing.finding": "Finding",
        },
        fields={
            "checks": "Checks",
            "schedule_kind": "Schedule",
            "interval_minutes": "Every (minutes)",
            "cron": "Cron expression",
            "timezone": "Timezone",
            "enabled": "Enabled",
            "intrusive_allowed": "Intrusive checks allowed",
            "production_opt_in": "Owner's production opt-in",
            "latency_tolerance": "Latency tolerance",
            "trigger": "Trigger",
            "base_url": "Base URL",
            "plan": "Plan",
            "hint": "Identity",
            "object_ids": "Object ids",
            "accepted_until": "Accepted until",
            "rotated": "Re-encrypted",
            "unreadable": "Unreadable",
            "case_count": "Cases",
            "severity": "Severity",
        },
        values={
            "status": dict(FindingStatus.choices),
            "kind": dict(IdentityKind.choices),
            "schedule_kind": dict(ScheduleKind.choices),
            "trigger": dict(RunTrigger.choices),
            "severity": dict(Severity.choices),
        },
        figures={"latency_tolerance"},
    )
