"""The functional case the README shows parses, and passes against the demo target it is written for."""

from __future__ import annotations

import re
from pathlib import Path

from testing.engines.cases import parse_cases, run_case
from testing.engines.checks.base import Context, Identity, Target
from testing.engines.checks.functional import Functional
from testing.engines.demo_target import DEMO_USERS, DemoTarget
from testing.engines.safe_http import Limits, SafeClient

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> str:
    match = re.search(r"### Functional cases.*?```yaml\n(.*?)```", README.read_text(), re.S)
    assert match, "the README's functional case example is gone"
    return match.group(1)


def test_the_readme_example_passes_against_the_demo_target():
    (case,) = parse_cases(_example())
    alice = DEMO_USERS["alice"]
    identity = Identity("alice", secrets=(alice.password,), named_secrets={"password": alice.password})
    client = SafeClient(allowed_networks=["127.0.0.0/8"], limits=Limits(per_host_rate=0, max_requests=10))
    with DemoTarget(port=0) as demo:
        target = Target(base_url=demo.url, identities=(identity,), cases=(case,))
        ctx = Context(target=target, client=client, check=Functional())
        result = run_case(case, ctx.send, secrets={"alice.password": alice.password})
    client.close()
    assert result.passed, [s.message for s in result.steps]
