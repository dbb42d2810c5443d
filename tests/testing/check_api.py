"""A tiny routed API on a real local server for the check tests (part B), and the client they use.

``Api`` routes by method and path without the query string (``"GET /items/1"`` or ``"/items/1"`` for
any method); unknown routes answer a JSON 404. ``client_factory`` is what ``run_checks`` expects: a
``SafeClient`` allowing loopback, no per-host rate, short timeouts, the given budget.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from testing.engines.safe_http import Limits, SafeClient
from tests.testing.servers import Behaviour, Request, respond


def client_factory(budget: int) -> SafeClient:
    return SafeClient(
        allowed_networks=["127.0.0.0/8"],
        limits=Limits(
            connect_timeout=2, read_timeout=2, total_timeout=3, per_host_rate=0, max_requests=budget
        ),
    )


def query(request: Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(request.path).query, keep_blank_values=True).items()}


def path_of(request: Request) -> str:
    return urlsplit(request.path).path


def json_answer(payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Behaviour:
    body = json.dumps(payload).encode()
    return lambda conn, request: respond(
        conn, status, body, [("Content-Type", "application/json"), *(headers or [])]
    )


def text_answer(
    body: bytes,
    status: int = 200,
    content_type: str = "text/plain",
    headers: list[tuple[str, str]] | None = None,
) -> Behaviour:
    return lambda conn, request: respond(
        conn, status, body, [("Content-Type", content_type), *(headers or [])]
    )


@dataclass
class Api:
    routes: dict[str, Behaviour] = field(default_factory=dict)
    fallback: Behaviour | None = None

    def __call__(self, conn: socket.socket, request: Request) -> None:
        path = path_of(request)
        handler = self.routes.get(f"{request.method} {path}") or self.routes.get(path) or self.fallback
        if handler is None:
            respond(conn, 404, b'{"error":"not found"}', [("Content-Type", "application/json")])
        else:
            handler(conn, request)


def handler(fn: Callable[[Request], tuple[int, bytes, list[tuple[str, str]]]]) -> Behaviour:
    """A behaviour from a function of the request returning (status, body, headers)."""

    def behaviour(conn: socket.socket, request: Request) -> None:
        status, body, headers = fn(request)
        respond(conn, status, body, headers)

    return behaviour
