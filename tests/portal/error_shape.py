"""Assertions for the one API error shape and the generic HTML error pages."""

from __future__ import annotations

from typing import Any

# Raised by the failing views of tests.portal.urls_errors; must never reach a response.
SECRET_DETAIL = "db password is hunter2"


def assert_error(response: Any, status: int, code: str | None = None) -> dict:
    """{"error": {"code", "message", "request_id"}} with the response's own request id."""
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "request_id"} <= set(body["error"])
    assert body["error"]["request_id"] == response["X-Request-ID"]
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def assert_error_page(response: Any, status: int) -> None:
    """A short generic page quoting the request id, with no trace or exception detail."""
    assert response.status_code == status
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert f"quote request id <code>{response['X-Request-ID']}</code>" in page
    for leak in ("Traceback", "File &quot;", 'File "', "Exception", SECRET_DETAIL, "settings.py"):
        assert leak not in page, leak
