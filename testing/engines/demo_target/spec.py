"""The demo target's OpenAPI 3.0 document: what the API claims, flaws included by omission.

``openapi_document(base_url)`` is the document as a dict (a fresh copy each call) and
``openapi_bytes(base_url)`` its JSON, as served at ``SPEC_PATH``; the portal can register it without
fetching. GET /v1/products and GET /debug/config are deliberately missing, and GET /promotions does
not list the 204 it answers.
"""

from __future__ import annotations

import json
from typing import Any

SPEC_PATH = "/openapi.json"
TITLE = "Demo Shop API (deliberately flawed)"
VERSION = "1.2.3"

PUBLIC: list[dict[str, list[str]]] = []  # `security: []`: documented as public


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


def _error(description: str) -> dict[str, Any]:
    return _json(description, _ref("Error"))


def _items(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": _ref(name)}},
    }


def _id_param(example: int, description: str) -> dict[str, Any]:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "integer", "minimum": 1, "example": example},
    }


def _q_param(description: str) -> dict[str, Any]:
    return {
        "name": "q",
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "maxLength": 100, "example": "mug"},
    }


UNAUTHORIZED = _error("Missing, malformed, expired or badly signed bearer token.")
NOT_FOUND = _error("No such object (or not yours).")

_RATE_HEADERS = {
    name: {"schema": {"type": "integer"}, "description": description}
    for name, description in (
        ("RateLimit-Limit", "Requests allowed per window."),
        ("RateLimit-Remaining", "Requests left in this window."),
        ("RateLimit-Reset", "Seconds until the window resets."),
    )
}

_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
    "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
    "Product": {
        "type": "object",
        "required": ["id", "name", "price"],
        "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "price": {"type": "number"}},
    },
    "Promotion": {
        "type": "object",
        "required": ["id", "title"],
        "properties": {"id": {"type": "integer"}, "title": {"type": "string"}},
    },
    "Stats": {
        "type": "object",
        "required": ["products", "orders", "users"],
        "properties": {
            "products": {"type": "integer"},
            "orders": {"type": "integer"},
            "users": {"type": "integer"},
        },
    },
    "Order": {
        "type": "object",
        "required": ["id", "owner", "item", "total", "status"],
        "properties": {
            "id": {"type": "integer"},
            "owner": {"type": "string"},
            "item": {"type": "string"},
            "total": {"type": "number"},
            "status": {"type": "string"},
        },
    },
    "Invoice": {
        "type": "object",
        "required": ["id", "owner", "amount"],
        "properties": {"id": {"type": "integer"}, "owner": {"type": "string"}, "amount": {"type": "number"}},
    },
    "Notification": {
        "type": "object",
        "required": ["id", "message"],
        "properties": {"id": {"type": "integer"}, "message": {"type": "string"}},
    },
    "Wallet": {
        "type": "object",
        "required": ["owner", "balance", "currency"],
        "properties": {
            "owner": {"type": "string"},
            "balance": {"type": "number"},
            "currency": {"type": "string"},
        },
    },
    "Reports": {
        "type": "object",
        "required": ["viewer", "items"],
        "properties": {
            "viewer": {"type": "string"},
            "items": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"name": {"type": "string"}, "value": {"type": "number"}},
                },
            },
        },
    },
    "User": {
        "type": "object",
        "required": ["id", "username", "display_name", "email", "role", "is_admin"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "username": {"type": "string", "readOnly": True},
            "display_name": {"type": "string"},
            "email": {"type": "string"},
            "role": {"type": "string", "readOnly": True},
            "is_admin": {"type": "boolean", "readOnly": True},
        },
    },
    "UserUpdate": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "display_name": {"type": "string", "maxLength": 100},
            "email": {"type": "string", "maxLength": 200},
        },
    },
    "LoginRequest": {
        "type": "object",
        "required": ["username", "password"],
        "additionalProperties": False,
        "properties": {
            "username": {"type": "string", "maxLength": 100},
            "password": {"type": "string", "maxLength": 200},
        },
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string"},
            "expires_in": {"type": "integer"},
        },
    },
}


def _paths() -> dict[str, Any]:
    return {
        "/health": {
            "get": {
                "operationId": "getHealth",
                "summary": "Liveness (public)",
                "security": PUBLIC,
                "responses": {"200": _json("The service is up.", _ref("Health"))},
            }
        },
        SPEC_PATH: {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document (public)",
                "security": PUBLIC,
                "responses": {"200": _json("The OpenAPI document.", {"type": "object"})},
            }
        },
        "/auth/login": {
            "post": {
                "operationId": "login",
                "summary": "Exchange a username and password for a bearer token (public)",
                "security": PUBLIC,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("LoginRequest")}},
                },
                "responses": {
                    "200": _json("A bearer token (JWT).", _ref("Token")),
                    "400": _error("Not a JSON object with a username and a password."),
                    "401": _error("Wrong username or password."),
                },
            }
        },
        "/products": {
            "get": {
                "operationId": "listProducts",
                "summary": "List products, optionally filtered by name (public)",
                "security": PUBLIC,
                "parameters": [_q_param("Part of the product name.")],
                "responses": {"200": _json("Matching products.", _items("Product"))},
            }
        },
        "/products/{id}": {
            "get": {
                "operationId": "getProduct",
                "summary": "One product (public)",
                "security": PUBLIC,
                "parameters": [_id_param(1, "Product id.")],
                "responses": {"200": _json("The product.", _ref("Product")), "404": NOT_FOUND},
            }
        },
        "/promotions": {
            "get": {
                "operationId": "listPromotions",
                "summary": "Current promotions (public)",
                "security": PUBLIC,
                "responses": {"200": _json("Current promotions.", _items("Promotion"))},
            }
        },
        "/search": {
            "get": {
                "operationId": "search",
                "summary": "Search the catalogue (public, rate limited per client address)",
                "security": PUBLIC,
                "parameters": [_q_param("Search words.")],
                "responses": {
                    "200": _json("Matching products.", _items("Product"), headers=_RATE_HEADERS),
                    "429": _error("Too many requests; see Retry-After."),
                },
            }
        },
        "/stats": {
            "get": {
                "operationId": "getStats",
                "summary": "Shop statistics (public)",
                "security": PUBLIC,
                "responses": {"200": _json("Counts.", _ref("Stats"))},
            }
        },
        "/orders": {
            "get": {
                "operationId": "listMyOrders",
                "summary": "The caller's orders",
                "responses": {"200": _json("The caller's orders.", _items("Order")), "401": UNAUTHORIZED},
            }
        },
        "/orders/{id}": {
            "get": {
                "operationId": "getOrder",
                "summary": "One of the caller's orders",
                "parameters": [_id_param(101, "Order id.")],
                "responses": {
                    "200": _json("The order.", _ref("Order")),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/v2/orders/{id}": {
            "get": {
                "operationId": "getOrderV2",
                "summary": "One of the caller's orders (v2)",
                "parameters": [_id_param(101, "Order id.")],
                "responses": {
                    "200": _json("The order.", _ref("Order")),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/invoices": {
            "get": {
                "operationId": "listMyInvoices",
                "summary": "The caller's invoices",
                "responses": {"200": _json("The caller's invoices.", _items("Invoice")), "401": UNAUTHORIZED},
            }
        },
        "/users/me": {
            "get": {
                "operationId": "getMe",
                "summary": "The caller's profile",
                "responses": {"200": _json("The profile.", _ref("User")), "401": UNAUTHORIZED},
            },
            "patch": {
                "operationId": "updateMe",
                "summary": "Change the caller's display name or email",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("UserUpdate")}},
                },
                "responses": {
                    "200": _json("The updated profile.", _ref("User")),
                    "400": _error("Not a JSON object, or a field of the wrong type."),
                    "401": UNAUTHORIZED,
                },
            },
        },
        "/notifications": {
            "get": {
                "operationId": "listNotifications",
                "summary": "The caller's notifications",
                "responses": {
                    "200": _json("The caller's notifications.", _items("Notification")),
                    "401": UNAUTHORIZED,
                },
            }
        },
        "/wallet": {
            "get": {
                "operationId": "getWallet",
                "summary": "The caller's wallet balance",
                "responses": {"200": _json("The wallet.", _ref("Wallet")), "401": UNAUTHORIZED},
            }
        },
        "/reports": {
            "get": {
                "operationId": "listReports",
                "summary": "Sales reports",
                "responses": {"200": _json("Reports.", _ref("Reports")), "401": UNAUTHORIZED},
            }
        },
    }


def openapi_document(base_url: str | None = None) -> dict[str, Any]:
    """The document; ``servers`` names ``base_url`` when given (the running target's own URL)."""
    document: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": "A deliberately flawed API for demonstrating and testing the portal's checks. "
            "Serve it on loopback only.",
        },
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
            "schemas": _SCHEMAS,
        },
        "security": [{"bearerAuth": []}],
    }
    if base_url:
        document["servers"] = [{"url": base_url.rstrip("/")}]
    # A deep copy: callers may change what they get without changing the next caller's document.
    copied: dict[str, Any] = json.loads(json.dumps(document))
    return copied


def openapi_bytes(base_url: str | None = None) -> bytes:
    """The document as the JSON bytes served at ``SPEC_PATH`` (and uploadable to the portal)."""
    return json.dumps(openapi_document(base_url), indent=2, sort_keys=False).encode()


def documented_operations() -> list[str]:
    """``"METHOD /path"`` for every operation the document lists."""
    return [
        f"{method.upper()} {path}"
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    ]
