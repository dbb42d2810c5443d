"""The REST schema tells the truth: Schemathesis runs every check against /api/schema/.

It generates requests from the schema (valid ones, and invalid ones that must be refused), sends them
to a live test server as a CISO whose token was issued after TOTP, and checks each answer: no server
error, only documented statuses, bodies and headers as declared, valid input accepted, invalid input
refused. Fixed seed and a bounded number of cases, so a failure reproduces. The token-revoking
operation is left out: Schemathesis would revoke the token it runs with.

What a JSON Schema cannot say is filled in by hooks, only for requests meant to be valid: an upload's
file is a real file of its format, and a unit named in a body is one that exists (as a client would
only name units it knows). Everything else comes from the schema as served.

Schemathesis's pytest plugin and pytest-django do not mix (its parametrized tests outlive the test
database), so the test calls its Python API (the engine the CLI runs) from a plain test function.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis import engine
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transforms import deepclone
from schemathesis.engine import Status, events
from schemathesis.generation import GenerationMode

from inventory.engines import discovery, sbom
from tests.factories import ApiTokenFactory

DATA = Path(__file__).resolve().parent.parent / "data"
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
# A real file of each upload's format, by the upload's path suffix.
SAMPLE_FILES = {
    "/discovery/logs/": ((DATA / "logs" / "access.log").read_bytes(), "nginx"),
    "/spec/": ((DATA / "openapi" / "payments.yaml").read_bytes(), None),
    "/components/": ((DATA / "lockfiles" / "requirements.txt").read_bytes(), sbom.REQUIREMENTS_TXT),
}
FORMATS = {"/discovery/logs/": discovery.FORMATS, "/spec/": (), "/components/": sbom.FORMATS}
SEED = 20261203
# A well-formed request the record's state refuses is a 409, which the check accepts (confirming a
# draft, a move the workflow does not allow now, dismissing twice). Where a valid request may still
# be a 400, because of a rule across fields that JSON Schema cannot express, only
# positive_data_acceptance is told: a note that only some moves require, naming exactly one
# consumer (a registered API you can see, or a service), a window's fields by its kind, a baseline's
# percentiles in order (p50 ≤ p95 ≤ p99), a list's deprecated page number or its cursor, not both.
STATE_DEPENDENT = [
    ("GET", r"/inventory/apis/$"),
    ("POST", r"/apis/\{slug\}/transitions/$"),
    ("PUT", r"/environments/\{environment\}/baseline/$"),
    ("POST", r"/apis/\{slug\}/consumers/$"),
    ("POST", r"/apis/\{slug\}/windows/$"),
]
ACCEPTED_OR_REFUSED_BY_A_CROSS_FIELD_RULE = ["2xx", "400", "401", "403", "404", "409", "429"]
EXCLUDED = r"/tokens/\{id\}/revoke/$"
# Multipart uploads: Schemathesis cannot make a multipart body invalid in a way that survives its
# encoding (every part is text or bytes), and labels such cases negative anyway ("Invalid component:
# positive test case"), so its negative_data_rejection check is not told about them. The upload
# endpoints' refusals are tested directly (tests/inventory/test_api.py, test_upload_limits.py).
MULTIPART_UPLOADS = r"/(spec|components|discovery/logs)/$"


def bearer_for(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {ApiTokenFactory(user=user, second_factor=True).secret}"}


def load_schema(live_server: Any, headers: dict[str, str], **settings: Any) -> Any:
    operations = [
        {
            "include-method": method,
            "include-path-regex": pattern,
            "checks": {
                "positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_REFUSED_BY_A_CROSS_FIELD_RULE}
            },
        }
        for method, pattern in STATE_DEPENDENT
    ] + [
        {
            "include-method": "POST",
            "include-path-regex": MULTIPART_UPLOADS,
            "checks": {"negative_data_rejection": {"enabled": False}},
        }
    ]
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "workers": 1,
            "headers": headers,
            "operations": operations,
            # No state kept between runs (it would live in .schemathesis/): each run is the same run.
            "cache": {"enabled": False},
            **settings,
        }
    )
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/schema/?format=json", config=config, headers=headers
    )
    return schema.exclude(path_regex=EXCLUDED)


def fill_what_the_schema_cannot_say(schema: Any, unit_slugs: list[str]) -> None:
    """Hooks for valid requests only: a real file for each upload, an existing unit for ``org_unit``,
    a slug not taken yet for a new API (a taken one is refused, which no schema can know)."""
    fresh = itertools.count()

    @schema.hook
    def map_case(context: Any, case: Any) -> Any:
        if case.meta is None or any(
            info.mode != GenerationMode.POSITIVE
            for info in [case.meta.generation, *case.meta.components.values()]
        ):
            return case
        if not isinstance(case.body, dict):
            return case
        body = deepclone(case.body)
        if isinstance(body.get("file"), bytes):
            for suffix, (content, fmt) in SAMPLE_FILES.items():
                if case.operation.path.endswith(suffix):
                    body["file"] = content
                    if "format" in body and body["format"] in FORMATS[suffix]:
                        body["format"] = fmt
        if isinstance(body.get("org_unit"), str) and SLUG.match(body["org_unit"]):
            body["org_unit"] = unit_slugs[len(body["org_unit"]) % len(unit_slugs)]
        if case.operation.method.upper() == "PUT":
            body.pop("org_unit", None)  # optional; another unit than the record's own is refused
        slug = body.get("slug")
        if case.operation.method.upper() == "POST" and isinstance(slug, str) and SLUG.match(slug):
            body["slug"] = f"{body['slug'][:50]}-{next(fresh)}".lower().replace("_", "-")
        case.body = body
        return case


def run(schema: Any) -> Iterator[tuple[str, str, str]]:
    """(operation, check, what failed) for every failed check; errors of the run itself raise."""
    for event in engine.from_schema(schema).execute():
        if isinstance(event, events.FatalError):
            raise event.exception
        if isinstance(event, events.NonFatalError):
            pytest.fail(f"{event.label}: {event.info.format()}")
        if isinstance(event, events.ScenarioFinished):
            for case_id, checks in event.recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        case = event.recorder.cases[case_id].value
                        interaction = event.recorder.interactions.get(case_id)
                        response = interaction.response if interaction else None
                        yield (
                            event.recorder.label,
                            check.name,
                            describe(case, response, check.failure_info.failure),
                        )


def describe(case: Any, response: Any, failure: Any) -> str:
    answer = f"{response.status_code} {response.content[:300]!r}" if response is not None else "-"
    return (
        f"{failure.title}: {failure.message} (query={case.query!r}, body={str(case.body)[:200]}) → {answer}"
    )


@pytest.fixture
def contract_run(
    live_server: Any, ciso: Any, org: Any, tasks_inline: None, unthrottled: None
) -> Callable[..., list[tuple[str, str, str]]]:
    def _run(**settings: Any) -> list[tuple[str, str, str]]:
        schema = load_schema(live_server, bearer_for(ciso), **settings)
        fill_what_the_schema_cannot_say(schema, [org.team.slug, org.dept.slug, org.root.slug])
        return sorted(set(run(schema)))

    return _run


@pytest.mark.slow
def test_the_api_answers_as_its_schema_says(contract_run):
    failures = contract_run(
        generation={"max-examples": 10},
        phases={"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    )
    assert failures == [], "\n".join(" | ".join(f) for f in failures)
