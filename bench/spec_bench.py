"""Benchmark for OpenAPI uploads: parse, validate and the whole upload service on big, valid specs.

    .venv/bin/python bench/spec_bench.py                  # 10 MB / 4,000 operations and 5 MB / 2,000
    .venv/bin/python bench/spec_bench.py --sizes 4000     # one size only
    .venv/bin/python bench/spec_bench.py --format json

Generates a valid OpenAPI 3.0 document per size (realistic operations: path, query and header
parameters with schemas and examples, request bodies, several responses with ``$ref``s to shared
components, padded with descriptions until the file is about 2,500 bytes per operation, so 4,000
operations make a file just under the 10 MiB upload limit). For each it prints:

* ``load``: bytes → Python data (the YAML or JSON loader with its bounds);
* ``parse``: ``openapi.parse_spec`` whole (load, normalise, check ``$ref``s, validate, list operations);
* ``validate``: validation alone, on the loaded document;
* ``upload``: ``specs.spec_upload`` (parse + the database writes + audit), in a throw-away SQLite
  database (or the ``DATABASE_URL`` one), twice: the first version of an API and a second version.

Wall and CPU seconds both, so a busy machine shows (CPU much lower than wall). No target is
enforced here; the tests hold the behaviour, this shows the cost.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LIMIT = 10 * 1024 * 1024
BYTES_PER_OPERATION = 2_500  # 4,000 operations ≈ 10 MB, under the 10 MiB limit


def build_document(operations: int, *, bytes_per_operation: int = BYTES_PER_OPERATION) -> dict[str, Any]:
    """A valid OpenAPI 3.0.3 document with ``operations`` operations (two per path)."""
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "pattern": "^[A-Z_]{3,40}$", "example": "NOT_FOUND"},
                "message": {"type": "string", "maxLength": 500},
            },
        },
        "Money": {
            "type": "object",
            "properties": {
                "amount": {"type": "integer", "minimum": 0, "example": 1200},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "EUR"},
            },
        },
    }
    paths: dict[str, Any] = {}
    pad = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
    for i in range(operations // 2):
        name = f"Resource{i}"
        schemas[name] = {
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "string", "format": "uuid"},
                "name": {"type": "string", "minLength": 1, "maxLength": 200, "example": f"item {i}"},
                "price": {"$ref": "#/components/schemas/Money"},
                "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]+$"}},
            },
        }
        ref = {"$ref": f"#/components/schemas/{name}"}
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        id_param = {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f-]{36}$"},
            "example": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        }
        common = {
            "tags": [f"group{i % 50}"],
            "security": [{"bearer": []}],
        }
        paths[f"/v1/group{i % 50}/resources{i}/{{id}}"] = {
            "get": {
                **common,
                "operationId": f"getResource{i}",
                "summary": f"Get resource {i}",
                "description": pad * 12,
                "parameters": [
                    id_param,
                    {
                        "name": "fields",
                        "in": "query",
                        "schema": {"type": "string", "pattern": "^[a-z,]*$", "default": "id,name"},
                    },
                    {"name": "X-Request-Id", "in": "header", "schema": {"type": "string", "format": "uuid"}},
                ],
                "responses": {
                    "200": {"description": "The resource", "content": {"application/json": {"schema": ref}}},
                    "404": {"description": "No such resource", "content": error},
                    "default": {"description": "Unexpected error", "content": error},
                },
            },
            "put": {
                **common,
                "operationId": f"putResource{i}",
                "summary": f"Replace resource {i}",
                "description": pad * 12,
                "parameters": [id_param],
                "requestBody": {"required": True, "content": {"application/json": {"schema": ref}}},
                "responses": {
                    "200": {"description": "Replaced", "content": {"application/json": {"schema": ref}}},
                    "400": {"description": "Invalid body", "content": error},
                    "404": {"description": "No such resource", "content": error},
                },
            },
        }
    document = {
        "openapi": "3.0.3",
        "info": {
            "title": "Benchmark API",
            "version": "1.0.0",
            "description": "Generated by bench/spec_bench.py",
        },
        "servers": [{"url": "https://api.example.com"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
    # Pad the descriptions so the file reaches the intended size (YAML and JSON differ a little).
    size = len(_dump(document, "yaml"))
    target = operations * bytes_per_operation
    if size < target:
        extra = (target - size) // max(operations, 1)
        for item in paths.values():
            for op in item.values():
                op["description"] += "x" * extra
    return document


class _NoAliasDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes shared objects out in full: people's specs repeat themselves rather than use aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _dump(document: dict[str, Any], fmt: str) -> bytes:
    if fmt == "json":
        return json.dumps(document, indent=1).encode()
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, width=200).encode()


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _validator() -> Callable[[dict[str, Any], str], None]:
    """Validation alone, whichever implementation this checkout has."""
    try:
        from inventory.engines import openapi_validation

        return lambda doc, minor: openapi_validation.validate(doc, minor=minor)
    except ImportError:  # before openapi_validation existed
        from inventory.engines import openapi

        return lambda doc, minor: openapi._validate(doc, minor)


def _loader(fmt: str) -> Callable[[bytes], Any]:
    from inventory.engines import openapi

    if fmt == "json":
        return lambda data: openapi._load_json(data.decode())
    return lambda data: openapi._load_yaml(data.decode())


def _setup_django(tmp: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("PORTAL_ENV", "development")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("CACHE_URL", "locmemcache://")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _upload_runner() -> Callable[[bytes, int], Any]:
    from inventory.services import specs
    from portal.audit import Actor
    from portal.models import Role
    from tests.factories import UserFactory, grant, make_unit, register_api

    unit = make_unit("bench-team")
    user = UserFactory(username="bench-uploader")
    grant(user, unit, Role.DEVELOPER)
    actor = Actor(user=user)

    def run(data: bytes, seq: int) -> Any:
        from inventory.models import Api

        api = Api.objects.filter(slug=f"bench-{seq}").first() or register_api(unit, f"bench-{seq}")
        return specs.spec_upload(actor=actor, api=api, data=data, filename="openapi.yaml")

    return run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[4000, 2000], help="operations per spec")
    parser.add_argument("--format", choices=["yaml", "json"], default="yaml")
    parser.add_argument("--no-upload", action="store_true", help="skip the service (no database)")
    args = parser.parse_args()

    from inventory.engines import openapi

    load, validate = _loader(args.format), _validator()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        upload = None
        if not args.no_upload:
            _setup_django(tmp)
            upload = _upload_runner()
        for seq, operations in enumerate(args.sizes):
            data = _dump(build_document(operations), args.format)
            assert len(data) <= LIMIT, f"generated {len(data):,} bytes, over the {LIMIT:,} limit"
            row: dict[str, Any] = {"operations": operations, "bytes": len(data)}
            row["load"] = _timed(lambda data=data: load(data))[:2]
            wall, cpu, parsed = _timed(lambda data=data: openapi.parse_spec(data, max_bytes=LIMIT))
            assert len(parsed.operations) == operations, len(parsed.operations)
            row["parse"] = (wall, cpu)
            minor = parsed.openapi_version.split(".")[1]
            row["validate"] = _timed(lambda parsed=parsed, minor=minor: validate(parsed.document, minor))[:2]
            if upload is not None:
                first = _timed(lambda data=data, seq=seq: upload(data, seq))
                assert first[2].created and first[2].spec.operation_count == operations
                second_data = data.replace(b"Benchmark API", b"Benchmark API v2", 1)
                second = _timed(lambda data=second_data, seq=seq: upload(data, seq))
                assert second[2].created and second[2].spec.number == 2
                row["upload"] = first[:2]
                row["upload v2"] = second[:2]
            rows.append(row)
            print(_line(row), flush=True)
    return 0


def _line(row: dict[str, Any]) -> str:
    parts = [f"{row['operations']:>5,} operations, {row['bytes'] / 1_000_000:5.2f} MB:"]
    for key in ("load", "parse", "validate", "upload", "upload v2"):
        if key in row:
            wall, cpu = row[key]
            parts.append(f"{key} {wall:6.2f} s wall / {cpu:6.2f} s CPU")
    return "  ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
