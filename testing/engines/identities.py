"""The identities a test plan can hold, and how each becomes request headers (pure engine).

Kinds (frozen dataclasses, validated on construction, ``IdentityError`` with a clear message)::

    BearerToken(name, token)
    BasicAuth(name, username, password)
    ApiKeyHeader(name, header, value)
    OAuth2ClientCredentials(name, token_url, client_id, client_secret, scope="", auth="basic"|"body")
    LoginStep(name, path, json, token_path, header="Authorization: Bearer {{ token }}",
              method="POST", secrets={"password": ...})

``resolve(spec, client=, base_url=)`` gives a ``base.Identity``: the headers to send, every secret
value (the configured ones, derived ones like a Basic header, and obtained tokens) for redaction,
and the bearer ``token``. OAuth2 and login requests go through the scanner's ``SafeClient``, so the
SSRF policy, budget and timeouts apply; a refused address, a failed request or a non-2xx answer is an
``IdentityError`` with a short reason (the status code, the error kind), never a secret.

The result is a ``base.Identity``, whose ``named_secrets`` carry what
owners' cases may use as ``{{ secrets.<identity>.<name> }}`` (``token``, ``password``,
``client_secret``, ``value``, a login step's own secrets).

``to_json``/``from_json`` turn a spec into JSON and back (the plan stores that JSON encrypted: it
holds the secrets). Secret fields are left out of ``repr`` so a spec in a log shows no secret.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any
from urllib.parse import urlencode, urlsplit

from testing.engines.cases import templates
from testing.engines.cases.jsonpath import JsonPath, PathError, compile_path
from testing.engines.checks.base import Identity
from testing.engines.safe_http import SafeClient, ScanError, ScanResponse

MAX_NAME = 64
MAX_SECRET = 8192
MAX_JSON_CHARS = 64 * 1024
MAX_LOGIN_SECRETS = 10
MAX_TOKEN = 8192
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
LOGIN_METHODS = ("POST", "PUT", "GET")


class IdentityError(ValueError):
    """An identity that is not valid or could not be resolved; the message holds no secret."""


# validation helpers ------------------------------------------------------------------------------------


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME or not set(name) <= _NAME_CHARS:
        raise IdentityError(f"an identity name is 1 to {MAX_NAME} letters, digits, '_' or '-'")


def _check_text(kind: str, what: str, value: Any, *, required: bool = True, limit: int = MAX_SECRET) -> None:
    if not isinstance(value, str):
        raise IdentityError(f"{kind}: {what} must be text")
    if required and not value:
        raise IdentityError(f"{kind}: {what} is required")
    if len(value) > limit:
        raise IdentityError(f"{kind}: {what} is longer than {limit} characters")
    if any(c in value for c in "\r\n\x00"):
        raise IdentityError(f"{kind}: {what} contains a line break")


def _check_header_name(kind: str, name: Any) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= 128 or not set(name) <= _TOKEN_CHARS:
        raise IdentityError(f"{kind}: the header name is not a valid HTTP header name")


def _check_object_ids(kind: str, ids: Any) -> None:
    if (
        not isinstance(ids, tuple)
        or len(ids) > 50
        or not all(isinstance(i, str) and 0 < len(i) <= 200 for i in ids)
    ):
        raise IdentityError(f"{kind}: object_ids is a list of at most 50 short texts")


# the kinds ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BearerToken:
    name: str
    token: str = field(repr=False)
    object_ids: tuple[str, ...] = ()
    kind = "bearer"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_text(self.kind, "the token", self.token)
        _check_object_ids(self.kind, self.object_ids)


@dataclass(frozen=True)
class BasicAuth:
    name: str
    username: str
    password: str = field(repr=False)
    object_ids: tuple[str, ...] = ()
    kind = "basic"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_text(self.kind, "the username", self.username, limit=256)
        if ":" in self.username:
            raise IdentityError("basic: the username cannot contain ':'")
        _check_text(self.kind, "the password", self.password)
        _check_object_ids(self.kind, self.object_ids)


@dataclass(frozen=True)
class ApiKeyHeader:
    name: str
    header: str
    value: str = field(repr=False)
    object_ids: tuple[str, ...] = ()
    kind = "api_key"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_header_name(self.kind, self.header)
        if self.header.lower() in ("host", "content-length", "transfer-encoding", "connection"):
            raise IdentityError(f"api_key: {self.header} cannot carry an API key")
        _check_text(self.kind, "the value", self.value)
        _check_object_ids(self.kind, self.object_ids)


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    name: str
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str = ""
    auth: str = "basic"  # client_secret_basic; "body": client_secret_post
    object_ids: tuple[str, ...] = ()
    kind = "oauth2_client_credentials"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_text(self.kind, "the token URL", self.token_url, limit=2048)
        try:
            parts = urlsplit(self.token_url)
            host = parts.hostname
        except ValueError:
            raise IdentityError("oauth2_client_credentials: the token URL is not a URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise IdentityError("oauth2_client_credentials: the token URL must be an http(s) URL with a host")
        if "@" in parts.netloc:
            raise IdentityError("oauth2_client_credentials: the token URL cannot hold credentials")
        _check_text(self.kind, "the client id", self.client_id, limit=512)
        _check_text(self.kind, "the client secret", self.client_secret)
        _check_text(self.kind, "the scope", self.scope, required=False, limit=1024)
        if self.auth not in ("basic", "body"):
            raise IdentityError("oauth2_client_credentials: auth is 'basic' or 'body'")
        _check_object_ids(self.kind, self.object_ids)


@dataclass(frozen=True)
class LoginStep:
    """``method path`` with a JSON body whose ``{{ secrets.NAME }}`` come from ``secrets``; the
    token is read at ``token_path`` and sent as ``header`` (``Name: value with {{ token }}``)."""

    name: str
    path: str
    json: Any = field(repr=False)
    token_path: str
    header: str = "Authorization: Bearer {{ token }}"
    method: str = "POST"
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    object_ids: tuple[str, ...] = ()
    kind = "login"

    def __post_init__(self) -> None:
        _check_name(self.name)
        _check_text(self.kind, "the path", self.path, limit=2048)
        if not self.path.startswith("/") or self.path.startswith("//") or "://" in self.path:
            raise IdentityError("login: the path must be relative to the API's base URL and start with '/'")
        if self.method not in LOGIN_METHODS:
            raise IdentityError(f"login: the method is one of {', '.join(LOGIN_METHODS)}")
        if not isinstance(self.secrets, Mapping) or len(self.secrets) > MAX_LOGIN_SECRETS:
            raise IdentityError(f"login: secrets is a mapping of at most {MAX_LOGIN_SECRETS} names")
        for key, value in self.secrets.items():
            if not isinstance(key, str) or not templates.valid_secret_name(key) or "." in key:
                raise IdentityError("login: a secret name is letters, digits, '_' or '-'")
            _check_text(self.kind, f"secret {key}", value)
        try:
            self.path_to_token()
        except PathError as exc:
            raise IdentityError(f"login: token_path: {exc}") from None
        name, _, value = self.header.partition(":")
        _check_header_name(self.kind, name.strip())
        _check_text(self.kind, "the header", self.header, limit=1024)
        if templates.names(value) != ["token"]:
            raise IdentityError("login: the header template holds {{ token }} once and no other placeholder")
        try:
            encoded = json.dumps(self.json)
        except (TypeError, ValueError):
            raise IdentityError("login: the body must be JSON data") from None
        if len(encoded) > MAX_JSON_CHARS:
            raise IdentityError(f"login: the body is larger than {MAX_JSON_CHARS} characters")
        for text in _strings(self.json):
            try:
                used = templates.names(text)
            except templates.TemplateError as exc:
                raise IdentityError(f"login: the body: {exc}") from None
            for placeholder in used:
                key = placeholder.removeprefix(templates.SECRETS)
                if placeholder == key or key not in self.secrets:
                    raise IdentityError(
                        f"login: the body uses {{{{ {placeholder} }}}}, which is not one of its secrets"
                    )
        _check_object_ids(self.kind, self.object_ids)

    def path_to_token(self) -> JsonPath:
        path = compile_path(self.token_path)
        if not path.singular:
            raise PathError("the token path must point at one value (no [*])")
        return path


IdentitySpec = BearerToken | BasicAuth | ApiKeyHeader | OAuth2ClientCredentials | LoginStep
KINDS: dict[str, type[Any]] = {
    cls.kind: cls for cls in (BearerToken, BasicAuth, ApiKeyHeader, OAuth2ClientCredentials, LoginStep)
}


def _strings(value: Any, depth: int = 0) -> list[str]:
    if depth > 20:
        raise IdentityError("login: the body is nested too deeply")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v, depth + 1)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v, depth + 1)]
    return []


# JSON ------------------------------------------------------------------------------------------------


def to_json(spec: IdentitySpec) -> str:
    """The spec as JSON (with its secrets: encrypt it before storing)."""
    data: dict[str, Any] = {"kind": spec.kind}
    for f in fields(spec):
        value = getattr(spec, f.name)
        data[f.name] = (
            list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
        )
    return json.dumps(data, sort_keys=True)


def from_json(text: str | bytes) -> IdentitySpec:
    """A spec from ``to_json``'s output; ``IdentityError`` for anything else."""
    if len(text) > MAX_JSON_CHARS * 2:
        raise IdentityError("the identity is too large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise IdentityError("the identity is not valid JSON") from None
    if not isinstance(data, dict):
        raise IdentityError("the identity must be a JSON object")
    kind = data.pop("kind", None)
    cls = KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise IdentityError(f"unknown identity kind; expected one of {', '.join(KINDS)}")
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise IdentityError(f"{kind}: unknown field(s) {', '.join(k[:40] for k in unknown[:5])}")
    if "object_ids" in data:
        if not isinstance(data["object_ids"], list):
            raise IdentityError(f"{kind}: object_ids must be a list")
        data["object_ids"] = tuple(data["object_ids"])
    try:
        spec: IdentitySpec = cls(**data)
    except TypeError:
        missing = sorted(
            f.name
            for f in fields(cls)
            if f.name not in data and f.default is MISSING and f.default_factory is MISSING
        )
        raise IdentityError(f"{kind}: missing field(s) {', '.join(missing)}") from None
    return spec


# resolving -------------------------------------------------------------------------------------------


def resolve(spec: IdentitySpec, *, client: SafeClient, base_url: str) -> Identity:
    """The headers, secrets and token for ``spec``; see the module docstring."""
    if isinstance(spec, BearerToken):
        return Identity(
            name=spec.name,
            headers={"Authorization": f"Bearer {spec.token}"},
            secrets=(spec.token,),
            token=spec.token,
            object_ids=spec.object_ids,
            named_secrets={"token": spec.token},
        )
    if isinstance(spec, BasicAuth):
        encoded = base64.b64encode(f"{spec.username}:{spec.password}".encode()).decode("ascii")
        return Identity(
            name=spec.name,
            headers={"Authorization": f"Basic {encoded}"},
            secrets=(spec.password, encoded),
            object_ids=spec.object_ids,
            named_secrets={"username": spec.username, "password": spec.password},
        )
    if isinstance(spec, ApiKeyHeader):
        return Identity(
            name=spec.name,
            headers={spec.header: spec.value},
            secrets=(spec.value,),
            object_ids=spec.object_ids,
            named_secrets={"value": spec.value},
        )
    if isinstance(spec, OAuth2ClientCredentials):
        return _client_credentials(spec, client)
    return _login(spec, client, base_url)


def _failure(what: str, response: ScanResponse) -> IdentityError:
    if response.error is not None and response.status is None:
        return IdentityError(f"{what} failed: {response.error.kind.value}")
    return IdentityError(f"{what} was answered with status {response.status}")


def _token_from(response: ScanResponse, path: JsonPath, what: str) -> str:
    try:
        found = path.find(response.json())
    except ScanError:
        raise IdentityError(f"{what}: the answer is not JSON") from None
    token = found[0] if found else None
    if isinstance(token, int | float) and not isinstance(token, bool):
        token = str(token)
    if not isinstance(token, str) or not token:
        raise IdentityError(f"{what}: no token at {path}")
    if len(token) > MAX_TOKEN or any(c in token for c in "\r\n\x00"):
        raise IdentityError(f"{what}: the token is not a usable header value")
    return token


def _client_credentials(spec: OAuth2ClientCredentials, client: SafeClient) -> Identity:
    form = {"grant_type": "client_credentials"}
    if spec.scope:
        form["scope"] = spec.scope
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    derived: tuple[str, ...] = ()
    if spec.auth == "basic":
        encoded = base64.b64encode(f"{spec.client_id}:{spec.client_secret}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {encoded}"
        derived = (encoded,)
    else:
        form |= {"client_id": spec.client_id, "client_secret": spec.client_secret}
    response = client.post(spec.token_url, headers=headers, content=urlencode(form), follow_redirects=False)
    what = "the token request"
    if not response.ok or not 200 <= (response.status or 0) < 300:
        raise _failure(what, response)
    token = _token_from(response, compile_path("$.access_token"), what)
    return Identity(
        name=spec.name,
        headers={"Authorization": f"Bearer {token}"},
        secrets=(spec.client_secret, *derived, token),
        token=token,
        object_ids=spec.object_ids,
        named_secrets={"token": token, "client_id": spec.client_id, "client_secret": spec.client_secret},
    )


def _fill(value: Any, secrets: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _fill(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, secrets) for v in value]
    if isinstance(value, str):
        return templates.render(
            value, lambda name: secrets[name.removeprefix(templates.SECRETS)], limit=MAX_JSON_CHARS
        )
    return value


def _login(spec: LoginStep, client: SafeClient, base_url: str) -> Identity:
    url = base_url.rstrip("/") + spec.path
    body = _fill(spec.json, spec.secrets)
    response = client.request(spec.method, url, json=body, follow_redirects=False)
    what = "the login request"
    if not response.ok or not 200 <= (response.status or 0) < 300:
        raise _failure(what, response)
    token = _token_from(response, spec.path_to_token(), what)
    name, _, template = spec.header.partition(":")
    value = templates.render(template.strip(), lambda _name: token, limit=MAX_TOKEN + 1024)
    secrets = tuple(v for v in spec.secrets.values() if v)
    return Identity(
        name=spec.name,
        headers={name.strip(): value},
        secrets=(*secrets, token),
        token=token,
        object_ids=spec.object_ids,
        named_secrets={**spec.secrets, "token": token},
    )
