"""The Celery app, configured from Django settings (CELERY_* names)."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The beat schedule lives in code so every deployment runs the same one (exactly one beat process).
app.conf.beat_schedule = {
    "portal-heartbeat": {"task": "portal.tasks.heartbeat", "schedule": 60.0},
    "inventory-notify-stale-apis": {
        "task": "inventory.tasks.notify_stale_apis",
        "schedule": crontab(minute=5, hour=7),
    },
    "portal-audit-anchor-export": {
        "task": "portal.tasks.audit_anchor_export",
        "schedule": crontab(minute=47, hour=2),
    },
    "portal-sweep-notifications": {"task": "portal.tasks.sweep_notifications", "schedule": 300.0},
    "testing-recover-runs": {"task": "testing.tasks.recover_runs", "schedule": 300.0},
    # Starts every due test plan (and gives newly approved APIs their default plan): see
    # testing.services.schedule. A sweep still waiting when the next is sent is dropped.
    "testing-sweep-plans": {
        "task": "testing.tasks.sweep_plans",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "testing-expire-risk-acceptances": {
        "task": "testing.tasks.expire_risk_acceptances",
        "schedule": crontab(minute=11, hour=0),
    },
    "portal-verify-audit-chain": {
        "task": "portal.tasks.verify_audit_chain",
        "schedule": crontab(minute=17, hour=3),
    },
}
