"""``functional``: the API's owners' own YAML cases (``testing.engines.cases``) still pass.

Each failing step is one problem, fingerprinted by ``case:<case name>:step:<n>`` (stable while the
case keeps its name and its steps their order); its message says what was expected and what came
back, and its evidence is the step's redacted response. Cases are run in order; a case stops at its
first failing step. No cases: the check is skipped.

OWASP: API9:2023 (Improper Inventory Management). A failing owners' case is not an attack class of
its own; it means the running API no longer does what its owners documented it to do, which is the
drift between what is deployed and what is documented that API9 is about. Not intrusive: the cases
send what the owners chose to send.

Secrets for ``{{ secrets.NAME }}`` come from the target's identities: ``<identity>.token`` for any
identity with a token, plus every named secret of a ``base.Identity`` (``identities.resolve``),
e.g. ``{{ secrets.alice.password }}``. A step may also name an identity (``identity: alice``) to send
that identity's headers, which counts it in the run's authenticated health.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from testing.engines.cases import Case, run_case
from testing.engines.checks.base import Check, Context, Identity, Owasp, Problem, Severity, Skip, register

MAX_SECRETS = 200


def case_secrets(identities: Iterable[Identity]) -> dict[str, str]:
    """``{"<identity>.<name>": value}`` for ``{{ secrets.<identity>.<name> }}`` placeholders."""
    out: dict[str, str] = {}
    for identity in identities:
        named: Mapping[str, str] = identity.named_secrets
        if identity.token:
            out[f"{identity.name}.token"] = identity.token
        for name, value in named.items():
            if isinstance(name, str) and isinstance(value, str) and len(out) < MAX_SECRETS:
                out[f"{identity.name}.{name}"] = value
    return out


@register
class Functional(Check):
    key = "functional"
    title = "The owners' functional cases pass"
    sends = "the requests written in the API owners' own YAML cases, step by step"
    owasp = Owasp.API9
    severity = Severity.MEDIUM
    intrusive = False
    request_budget = 200

    def run(self, ctx: Context) -> list[Problem]:
        cases = [c for c in ctx.target.cases if isinstance(c, Case)]
        if not cases:
            raise Skip("the API's owners have written no functional cases")
        secrets = case_secrets(ctx.target.identities)
        identities = {i.name: i for i in ctx.target.identities}
        redactor = ctx.redactor.with_secrets(*secrets.values())
        passed = 0
        ctx.metrics["cases"] = len(cases)
        for case in cases:
            result = run_case(case, ctx.send, secrets=secrets, identities=identities, redactor=redactor)
            passed += result.passed
            ctx.metrics["cases_passed"] = passed
            for step in result.failures:
                before = len(ctx.problems)
                ctx.problem(
                    detail=f"case:{case.name}:step:{step.index}",
                    message=f"case {case.name!r}, {step.message}",
                    operation=step.operation,
                )
                if len(ctx.problems) > before:
                    # The step's evidence, redacted with what the case captured as well.
                    ctx.problems[-1].evidence = list(step.evidence)
        return ctx.problems
