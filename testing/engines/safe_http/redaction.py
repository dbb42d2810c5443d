"""Credentials out of anything stored as evidence, and bounded text excerpts of bodies.

``Redactor`` removes secrets from headers (Authorization, Cookie, Set-Cookie and a configurable list
of API-key headers), from URLs (user info, and query parameters whose name says secret), from JSON
(fields such as password, secret, token, api_key at any depth) and from free text (bearer tokens,
JWTs, ``password=...`` pairs, and the exact secret values the scan itself used). ``excerpt`` turns a
body into at most ``limit`` characters of redacted text, and refuses to render binary.

All patterns are linear (no nested quantifiers), so hostile bodies cannot make redaction slow.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

REDACTED = "[REDACTED]"

SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-xsrf-token",
        "x-amz-security-token",
        "x-goog-api-key",
        "ocp-apim-subscription-key",
    }
)
# Names (of JSON fields, query parameters, form fields) compared after lower-casing and dropping
# everything but letters and digits, so api_key, apiKey and API-KEY are one name.
SECRET_NAMES = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "secret",
        "token",
        "apikey",
        "key",
        "accesstoken",
        "refreshtoken",
        "idtoken",
        "clientsecret",
        "authorization",
        "auth",
        "privatekey",
        "credential",
        "credentials",
        "sessionid",
        "session",
        "signature",
        "sig",
        "otp",
    }
)
SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "privatekey", "credentials")

TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")
TEXT_SUFFIXES = ("+json", "+xml", "javascript", "yaml", "graphql")

_BEARER = re.compile(r"(?i)\b(bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{6,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# "password": "value" in JSON that could not be parsed (truncated), and password=value pairs.
_JSON_PAIR = re.compile(r'"([A-Za-z0-9_.-]{1,64})"\s*:\s*"((?:[^"\\\n]|\\.){0,4096})"')
_FORM_PAIR = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]{1,64})=([^&\s\"'<>]{1,4096})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _norm(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


@dataclass(frozen=True)
class Redactor:
    """What counts as a secret. ``known_secrets`` are exact values (the identities' tokens and
    passwords a scan sends), scrubbed wherever they appear."""

    secret_headers: frozenset[str] = SECRET_HEADERS
    secret_names: frozenset[str] = SECRET_NAMES
    known_secrets: tuple[str, ...] = field(default=())

    def with_secrets(self, *values: str) -> Redactor:
        """A redactor that also scrubs these exact values (ignores values shorter than 4 chars), and
        the spellings a target echoes them back in: JSON-escaped (``\\/``) and percent-encoded."""
        keep: list[str] = []
        for value in values:
            if not value or len(value) < 4:
                continue
            escaped = json.dumps(value)[1:-1]
            spellings = (
                value,
                escaped,
                escaped.replace("/", "\\/"),
                quote(value, safe=""),
                quote(value, safe="/"),
            )
            for spelling in spellings:
                if spelling not in keep and spelling not in self.known_secrets:
                    keep.append(spelling)
        # Longest first, so a secret that contains another is replaced whole.
        known = tuple(sorted(self.known_secrets + tuple(keep), key=len, reverse=True))
        return Redactor(self.secret_headers, self.secret_names, known)

    def with_headers(self, *names: str) -> Redactor:
        extra = frozenset(n.lower() for n in names)
        return Redactor(self.secret_headers | extra, self.secret_names, self.known_secrets)

    def is_secret_name(self, name: str) -> bool:
        norm = _norm(name)
        return norm in self.secret_names or norm.endswith(SECRET_SUFFIXES)

    # headers ---------------------------------------------------------------------------------------

    def headers(self, headers: Iterable[tuple[str, str]] | Mapping[str, str]) -> list[tuple[str, str]]:
        items = headers.items() if isinstance(headers, Mapping) else headers
        out: list[tuple[str, str]] = []
        for name, value in items:
            if name.lower() in self.secret_headers:
                scheme = value.split(" ", 1)[0] if " " in value.strip() else ""
                keep = f"{scheme} " if name.lower().endswith("authorization") and scheme else ""
                out.append((name, keep + REDACTED))
            else:
                out.append((name, self.text(value)))
        return out

    # URLs ------------------------------------------------------------------------------------------

    def url(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            return self.text(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = "&".join(
                f"{quote(k, safe='')}={REDACTED if self.is_secret_name(k) else quote(v, safe='')}"
                for k, v in pairs
            )
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, "")))

    # JSON and text ---------------------------------------------------------------------------------

    def json(self, value: Any, depth: int = 0) -> Any:
        if depth > 64:
            return REDACTED
        if isinstance(value, dict):
            return {
                k: (REDACTED if self.is_secret_name(str(k)) else self.json(v, depth + 1))
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.json(v, depth + 1) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def text(self, text: str) -> str:
        for secret in self.known_secrets:
            text = text.replace(secret, REDACTED)
        text = _JWT.sub(REDACTED, text)
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        text = _JSON_PAIR.sub(
            lambda m: f'"{m.group(1)}": "{REDACTED}"' if self.is_secret_name(m.group(1)) else m.group(0),
            text,
        )
        return _FORM_PAIR.sub(
            lambda m: f"{m.group(1)}={REDACTED}" if self.is_secret_name(m.group(1)) else m.group(0),
            text,
        )

    # bodies ----------------------------------------------------------------------------------------

    def excerpt(self, body: bytes, content_type: str = "", limit: int = 2000) -> str:
        """At most ``limit`` characters of redacted text; binary bodies become a one-line summary."""
        mime = content_type.split(";", 1)[0].strip().lower()
        textual = not mime or mime.startswith(TEXT_TYPES) or mime.endswith(TEXT_SUFFIXES)
        if not body:
            return ""
        if not textual or b"\x00" in body[:4096]:
            return f"[binary body, {len(body)} bytes, {mime or 'no content-type'}]"
        charset = "utf-8"
        match = re.search(r"charset=\"?([A-Za-z0-9_.:-]{1,40})", content_type)
        if match:
            charset = match.group(1)
        # Decode a little more than we show, so redaction sees whole "name": "value" pairs.
        window = body[: limit * 4 + 4096]
        try:
            text = window.decode(charset, errors="replace")
        except LookupError:
            text = window.decode("utf-8", errors="replace")
        if "json" in mime and len(window) == len(body):
            with contextlib.suppress(ValueError, RecursionError):
                text = json.dumps(self.json(json.loads(text)), ensure_ascii=False)
        text = _CONTROL.sub("\ufffd", self.text(text))
        if len(window) < len(body):
            # A secret cut in half at the window's end was not recognised: drop as much as the
            # longest secret could reach back, before anything of it can slide into view.
            text = text[: max(0, len(text) - max((len(s) for s in self.known_secrets), default=0))]
        if len(text) > limit or len(window) < len(body):
            return text[:limit] + f"…[truncated, {len(body)} bytes]"
        return text
