"""The scanner's one safe outbound HTTP client (pure engine: no Django import).

Use::

    from testing.engines.safe_http import Limits, SafeClient

    with SafeClient(allowed_networks=settings.SCANNER_ALLOWED_NETWORKS, limits=Limits(max_requests=50)) as client:
        response = client.get("https://api.example.com/health", headers={"Authorization": f"Bearer {token}"})
        if response.ok:
            payload = response.json()          # ScanError(INVALID_JSON) when it is not JSON
        else:
            response.error_kind                # an ErrorKind: refused_address, total_timeout, too_large...
        store(response.evidence(client.redactor.with_secrets(token)))  # redacted, bounded

``request()`` never raises, except ``BudgetExceeded`` when the client's request budget is spent.
Modules: ``addresses`` (normalising host spellings, the SSRF policy), ``backend`` (the httpcore
network backend that resolves, checks and connects to the checked address), ``decoding`` (bounded
Content-Encoding), ``redaction`` (secrets out of evidence, excerpts), ``client`` (limits, redirects,
budget, rate), ``errors`` (``ErrorKind``, ``ScanError``).
"""

from testing.engines.safe_http.addresses import AddressPolicy as AddressPolicy
from testing.engines.safe_http.addresses import parse_ip as parse_ip
from testing.engines.safe_http.addresses import parse_networks as parse_networks
from testing.engines.safe_http.backend import GuardedBackend as GuardedBackend
from testing.engines.safe_http.backend import Resolver as Resolver
from testing.engines.safe_http.backend import SystemResolver as SystemResolver
from testing.engines.safe_http.client import Limits as Limits
from testing.engines.safe_http.client import RedirectHop as RedirectHop
from testing.engines.safe_http.client import SafeClient as SafeClient
from testing.engines.safe_http.client import ScanResponse as ScanResponse
from testing.engines.safe_http.errors import BudgetExceeded as BudgetExceeded
from testing.engines.safe_http.errors import ErrorKind as ErrorKind
from testing.engines.safe_http.errors import ScanError as ScanError
from testing.engines.safe_http.redaction import Redactor as Redactor
