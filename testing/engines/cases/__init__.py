"""Owners' functional test cases: YAML in, validated ``Case`` values, results per step (pure engine).

An API's owners describe what their API should do, in the spirit of Tavern, Hurl and Step CI::

    name: login and read my profile
    steps:
      - name: login
        request:
          method: POST
          path: /login
          json: {user: alice, password: "{{ secrets.alice.password }}"}
        capture:
          token: $.access_token
        expect:
          status: 200
      - name: profile
        request:
          method: GET
          path: /users/me
          headers: {Authorization: "Bearer {{ token }}"}
        expect:
          status: [200, 203]
          headers: {Content-Type: {contains: json}}
          schema: {type: object, required: [id, name]}
          jsonpath: {"$.name": alice}
          max_latency_ms: 500

``parse_cases(text)`` validates everything it can before anything is sent and raises ``CaseError``
(``.line`` and a short ``.reason``); ``run_case(case, send, secrets=...)`` runs one case through a
``Context.send``-like callable and returns a ``CaseResult`` whose messages and evidence are redacted.
Modules: ``loader`` (YAML with line marks, bounded), ``jsonpath`` (the safe subset), ``templates``
(``{{ name }}`` placeholders), ``model`` (the values), ``parse``, ``run``.
"""

from testing.engines.cases.loader import CaseError as CaseError
from testing.engines.cases.model import Case as Case
from testing.engines.cases.model import Step as Step
from testing.engines.cases.parse import parse_cases as parse_cases
from testing.engines.cases.run import CaseResult as CaseResult
from testing.engines.cases.run import Mismatch as Mismatch
from testing.engines.cases.run import StepOutcome as StepOutcome
from testing.engines.cases.run import StepResult as StepResult
from testing.engines.cases.run import run_case as run_case
