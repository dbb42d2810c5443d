"""The demo target: a deliberately flawed API served on loopback, for demos and for testing the checks.

Pure engine (no Django import): stdlib ``http.server`` with a thread per connection, ``cryptography``
for the self-signed certificate. Start it from Python::

    from testing.engines.demo_target import DemoTarget, FLAWS, openapi_bytes

    with DemoTarget(port=0) as target:          # or tls=True; target.url, target.tls_versions
        ...

or from the shell: ``manage.py demo_target [--port P] [--tls] [--host 127.0.0.1]``.

What it gives the portal:

* ``openapi_document(base_url)`` / ``openapi_bytes(base_url)``: its OpenAPI 3.0 document (also served
  at ``SPEC_PATH``, ``/openapi.json``), so it can be registered without fetching;
* ``FLAWS``: check key → ``Flaw`` (operations, one-line description, trigger, mode) for every planted
  flaw; ``CORRECT_OPERATIONS``: the operations done right; ``UNDOCUMENTED_OPERATIONS``;
* ``DEMO_USERS``: alice and bob (log in with POST /auth/login ``{"username", "password"}``; their
  order and invoice ids), ``issue_token()`` to mint their tokens without a request;
* ``PERFORMANCE_BASELINE_P95_MS``: the baseline the slow GET /stats breaks.

Modules: ``app`` (routes and in-memory state, transport-free), ``server`` (sockets, limits, TLS),
``spec`` (the document), ``tokens`` (the weak JWTs), ``tls`` (the weak TLS), ``flaws`` (the table).
"""

from testing.engines.demo_target.flaws import CORRECT_OPERATIONS as CORRECT_OPERATIONS
from testing.engines.demo_target.flaws import DEMO_USERS as DEMO_USERS
from testing.engines.demo_target.flaws import FLAWS as FLAWS
from testing.engines.demo_target.flaws import PERFORMANCE_BASELINE_P95_MS as PERFORMANCE_BASELINE_P95_MS
from testing.engines.demo_target.flaws import UNDOCUMENTED_OPERATIONS as UNDOCUMENTED_OPERATIONS
from testing.engines.demo_target.flaws import DemoUser as DemoUser
from testing.engines.demo_target.flaws import Flaw as Flaw
from testing.engines.demo_target.server import DemoTarget as DemoTarget
from testing.engines.demo_target.server import NotLoopback as NotLoopback
from testing.engines.demo_target.server import loopback_address as loopback_address
from testing.engines.demo_target.spec import SPEC_PATH as SPEC_PATH
from testing.engines.demo_target.spec import documented_operations as documented_operations
from testing.engines.demo_target.spec import openapi_bytes as openapi_bytes
from testing.engines.demo_target.spec import openapi_document as openapi_document
from testing.engines.demo_target.tokens import JWT_SECRET as JWT_SECRET
from testing.engines.demo_target.tokens import issue_token as issue_token
