"""Files the tests upload, shared so every module sends the same document.

``data_file("openapi/payments.yaml")`` reads ``tests/data/openapi/payments.yaml`` as bytes, exactly as
an upload would carry it. What is here:

- ``openapi/payments.yaml``: a valid OpenAPI 3.0 document, two operations: ``GET /payments/{id}``
  (bearer auth, responses 200 and 404) and ``GET /health`` (no auth).
- ``openapi/payments-v2.yaml``: its next version: the 404 response gone, ``POST /refunds`` added.
- ``lockfiles/requirements.txt``: two pinned PyPI packages (django, requests).
- ``logs/access.log``: one nginx combined-format line, ``GET /v1/users/42``.

Text a test is about (an adversarial input, a parser's edge case) stays next to that test.
"""

from __future__ import annotations

from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile

DATA_DIR = Path(__file__).resolve().parent


def data_file(relative_path: str) -> bytes:
    return (DATA_DIR / relative_path).read_bytes()


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    """A file as a browser form sends it."""
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
