"""``exposed_debug``: debug endpoints, unwanted documentation and secret fields are not exposed.

Three parts, at most 33 requests:

1. A GET to a random path that cannot exist: the answer the server gives for anything it does not
   have (often an SPA's index page with a 200). A probe answered the same way is not exposed.
2. The ``PROBES`` below: 24 well-known paths under the base URL (``.env``, ``.git/config`` and the
   Apache status pages at the host's root, where a web server serves them), each confirmed by what
   its content must look like (a ``.git/config`` has ``repositoryformatversion``, an actuator
   ``env`` has ``propertySources``...), so a server that answers 200 to everything is not reported.
   Documentation paths (OpenAPI/Swagger JSON and UIs, ReDoc, GraphQL introspection) are allowed when
   ``target.docs_public``; debug paths never are. A path the spec itself documents is not probed.
   GraphQL introspection is a POST of ``{"query":"{__schema{types{name}}}"}`` to ``/graphql`` only
   (read-only, so not intrusive). The evidence of an exposed debug path keeps its status and
   headers, never its body (that body is the target's secrets).
3. Secrets in documented answers: up to 8 documented GET operations (sorted) are called; a JSON body
   with a non-empty, unmasked string under a key like ``password``, ``passwd``, ``secret``,
   ``api_key``, ``private_key`` (any case or separator, also as a suffix: ``db_password``,
   ``client_secret``) is ``secret_in_response`` (the evidence keeps the status and headers, never the
   body). A documented 2xx response schema with such a property (not ``writeOnly``) is
   ``secret_field_documented``, whatever the server answers.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from testing.engines.checks._probing import (
    call,
    excerpt,
    identity_for,
    is_html,
    json_body,
    looks_alike,
    normalized_name,
    safe_operations,
    walk_keys,
)
from testing.engines.checks.base import Check, Context, Owasp, Problem, Severity, register
from testing.engines.safe_http import ScanResponse

MAX_OPERATIONS = 8
GRAPHQL_QUERY = {"query": "{__schema{types{name}}}"}
SECRET_SUFFIXES = ("password", "passwd", "secret", "apikey", "privatekey")
SECRET_NAMES = frozenset({"passwordhash", "passwordsalt", "secretkey", "accesskeysecret"})
MASKED_VALUES = frozenset({"[redacted]", "redacted", "hidden", "<hidden>", "null", "none", "n/a"})


def _markers(*any_of: str) -> Callable[[ScanResponse, str], bool]:
    return lambda response, text: any(m in text for m in any_of)


def _api_description(response: ScanResponse, text: str) -> bool:
    body = json_body(response)
    return isinstance(body, dict) and ("openapi" in body or "swagger" in body)


def _heapdump(response: ScanResponse, text: str) -> bool:
    media = response.content_type.lower()
    return (
        response.body.startswith((b"JAVA PROFILE", b"\x1f\x8b"))
        or "octet-stream" in media
        or (not response.ok and response.status == 200 and not is_html(response))  # too large to read
    )


def _dotenv(response: ScanResponse, text: str) -> bool:
    if is_html(response) or json_body(response) is not None:
        return False
    for line in excerpt(response, 8192).splitlines()[:200]:  # ``text`` is lower-cased
        name, sep, _value = line.strip().removeprefix("export ").partition("=")
        if sep and name and name[0].isalpha() and all(c.isupper() or c.isdigit() or c == "_" for c in name):
            return True
    return False


def _introspection(response: ScanResponse, text: str) -> bool:
    body = json_body(response)
    data = body.get("data") if isinstance(body, dict) else None
    schema = data.get("__schema") if isinstance(data, dict) else None
    return isinstance(schema, dict) and isinstance(schema.get("types"), list)


@dataclass(frozen=True)
class Probe:
    path: str
    kind: str  # "docs" | "debug"
    confirms: Callable[[ScanResponse, str], bool]
    severity: Severity
    method: str = "GET"
    at_root: bool = False  # served by the web server for the whole host, not under the API's prefix


DOCS, DEBUG = "docs", "debug"
PROBES = (
    Probe("/openapi.json", DOCS, _api_description, Severity.LOW),
    Probe("/swagger.json", DOCS, _api_description, Severity.LOW),
    Probe("/v3/api-docs", DOCS, _api_description, Severity.LOW),
    Probe("/v2/api-docs", DOCS, _api_description, Severity.LOW),
    Probe("/api-docs", DOCS, _markers('"openapi"', '"swagger"', "swagger-ui"), Severity.LOW),
    Probe("/swagger-ui.html", DOCS, _markers("swagger-ui", "swaggerui"), Severity.LOW),
    Probe("/swagger-ui/", DOCS, _markers("swagger-ui", "swaggerui"), Severity.LOW),
    Probe("/docs", DOCS, _markers("swagger-ui", "redoc", '"openapi"'), Severity.LOW),
    Probe("/redoc", DOCS, _markers("redoc"), Severity.LOW),
    Probe("/graphql", DOCS, _introspection, Severity.MEDIUM, method="POST"),
    Probe("/actuator", DEBUG, _markers('"_links"'), Severity.MEDIUM),
    Probe("/actuator/env", DEBUG, _markers('"propertysources"', '"activeprofiles"'), Severity.CRITICAL),
    Probe("/actuator/heapdump", DEBUG, _heapdump, Severity.CRITICAL),
    Probe("/actuator/configprops", DEBUG, _markers('"contexts"', '"beans"'), Severity.HIGH),
    Probe("/debug/pprof/", DEBUG, _markers("goroutine"), Severity.HIGH),
    Probe("/debug/vars", DEBUG, _markers('"memstats"', '"cmdline"'), Severity.HIGH),
    Probe("/_profiler/", DEBUG, _markers("symfony profiler"), Severity.HIGH),
    Probe("/h2-console/", DEBUG, _markers("h2 console", "h2-console"), Severity.CRITICAL),
    Probe("/phpinfo.php", DEBUG, _markers("phpinfo()", "php version"), Severity.HIGH),
    Probe("/.env", DEBUG, _dotenv, Severity.CRITICAL, at_root=True),
    Probe("/.git/config", DEBUG, _markers("repositoryformatversion"), Severity.CRITICAL, at_root=True),
    Probe(
        "/server-status",
        DEBUG,
        _markers("apache server status", "server uptime"),
        Severity.MEDIUM,
        at_root=True,
    ),
    Probe("/server-info", DEBUG, _markers("apache server information"), Severity.MEDIUM, at_root=True),
    Probe("/elmah.axd", DEBUG, _markers("error log for"), Severity.HIGH),
)


def _url(base_url: str, probe: Probe) -> str:
    """The probe's URL: under the base URL, or at the host's root for the web server's own files."""
    if not probe.at_root:
        return probe.path
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, probe.path, "", ""))


def is_secret_name(name: str) -> bool:
    key = normalized_name(name)
    return key in SECRET_NAMES or any(key.endswith(s) for s in SECRET_SUFFIXES)


def _unmasked(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(text) and text.lower() not in MASKED_VALUES and not set(text) <= {"*", "x", "X", "•", "#"}


def secret_fields(body: Any) -> list[str]:
    """Key paths of non-empty, unmasked string values under secret-looking keys (bounded walk)."""
    return [
        path
        for path, value in walk_keys(body)
        if is_secret_name(path.rsplit(".", 1)[-1]) and _unmasked(value)
    ]


def documented_secret_fields(schema: Mapping[str, Any] | None, *, max_nodes: int = 2000) -> list[str]:
    """Property paths of a response schema whose names look secret (``writeOnly`` ones excepted)."""
    found: list[str] = []
    stack: list[tuple[str, Any, int]] = [("", schema, 0)]
    seen = 0
    while stack and seen < max_nodes:
        prefix, node, depth = stack.pop()
        seen += 1
        if not isinstance(node, Mapping) or depth > 20:
            continue
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            for name, child in list(properties.items())[:500]:
                path = f"{prefix}.{name}" if prefix else str(name)
                write_only = isinstance(child, Mapping) and child.get("writeOnly") is True
                if is_secret_name(str(name)) and not write_only:
                    found.append(path[:200])
                stack.append((path[:200], child, depth + 1))
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), Mapping):
                stack.append((f"{prefix}[]" if key == "items" else prefix, node[key], depth + 1))
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                stack.extend((prefix, child, depth + 1) for child in node[key][:50])
    return sorted(set(found))


@register
class ExposedDebug(Check):
    key = "exposed_debug"
    title = "No debug endpoints, unwanted documentation or secret fields exposed"
    sends = (
        "a GET to a random path, GETs to 23 well-known debug and documentation paths, a GraphQL "
        "introspection POST to /graphql, and one GET to each of up to 8 documented safe operations"
    )
    owasp = Owasp.API8
    severity = Severity.HIGH
    intrusive = False
    request_budget = 1 + len(PROBES) + MAX_OPERATIONS

    def run(self, ctx: Context) -> list[Problem]:
        target = ctx.target
        self._documented_schemas(ctx)
        documented_paths = {op.path for op in target.operations}
        who = identity_for(target)
        catch_all = ctx.send("GET", f"/{secrets.token_hex(12)}-no-such-path", identity=who)
        for probe in PROBES:
            if probe.path in documented_paths or probe.path.rstrip("/") in documented_paths:
                continue
            if probe.kind == DOCS and target.docs_public:
                continue
            if probe.method == "POST":
                response = ctx.send("POST", probe.path, identity=who, json=GRAPHQL_QUERY)
            else:
                response = ctx.send("GET", _url(target.base_url, probe), identity=who)
            if response.status != 200 or looks_alike(response, catch_all):
                continue
            if not probe.confirms(response, excerpt(response).lower()):
                continue
            what = "documentation" if probe.kind == DOCS else "debug endpoint"
            allowed = (
                " (the inventory does not mark the documentation as public)" if probe.kind == DOCS else ""
            )
            ctx.problem(
                detail=f"exposed_{probe.kind}",
                operation=f"{probe.method} {probe.path}",
                severity=probe.severity,
                message=f"Expected {probe.path} to be unreachable{allowed}; it serves its {what} (HTTP 200).",
                # A debug page's body is the target's secrets (.env, actuator env, a heap): keep the
                # status and headers as evidence, never the body.
                responses=[response if probe.kind == DOCS else dataclasses.replace(response, body=b"")],
            )
        for op in safe_operations(target, MAX_OPERATIONS):
            response = call(ctx, op)
            if response.status is None or not 200 <= response.status < 300:
                continue
            fields = secret_fields(json_body(response))
            if fields:
                ctx.problem(
                    detail="secret_in_response",
                    operation=op.key,
                    message=(
                        "Expected no passwords or secrets in the answer; it carries values under "
                        + ", ".join(fields[:5])
                        + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
                        + " (values not kept)."
                    ),
                    responses=[dataclasses.replace(response, body=b"")],  # the secret stays out of evidence
                )
        return ctx.problems

    def _documented_schemas(self, ctx: Context) -> None:
        for op in sorted(ctx.target.operations, key=lambda o: (o.path, o.method)):
            names: list[str] = []
            for status, schema in sorted(op.responses.items()):
                if status.startswith("2") and schema:
                    names.extend(documented_secret_fields(schema))
            if names:
                unique = sorted(set(names))
                ctx.problem(
                    detail="secret_field_documented",
                    operation=op.key,
                    severity=Severity.MEDIUM,
                    message=(
                        "Expected no password or secret properties in documented responses; the schema "
                        "has "
                        + ", ".join(unique[:5])
                        + (f" and {len(unique) - 5} more" if len(unique) > 5 else "")
                        + "."
                    ),
                )
