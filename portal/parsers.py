"""The REST API's JSON parser: the standard one, plus a bound on how deeply a body may nest.

Python's JSON decoder recurses once per level, so ``[[[[…`` 200,000 deep raises RecursionError
inside the parser (a 500 before this parser existed). Bodies are already bounded in size
(``DATA_UPLOAD_MAX_MEMORY_SIZE``); here depth is bounded too, and both failures are a 400.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Deeper than any body the portal accepts (an API record with environments is 3 levels).
MAX_JSON_DEPTH = 32
# Larger than any JSON body the portal accepts (the largest valid record is about half of this);
# files come as multipart uploads, bounded by PORTAL_UPLOAD_MAX_BYTES instead.
MAX_JSON_BYTES = 1024 * 1024


def _too_deep(value: Any, limit: int) -> bool:
    """Iterative, so checking the depth cannot itself recurse; only containers are visited (a body
    that is a bare scalar, ``null`` or ``1``, is not one: it nests nothing, the serializer refuses it)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        raw = stream.read(MAX_JSON_BYTES + 1)
        if len(raw) > MAX_JSON_BYTES:
            raise ParseError(f"JSON bodies are limited to {MAX_JSON_BYTES // 1024} KB.")
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels.") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error: {str(exc)[:200]}") from None
        if _too_deep(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nests deeper than {MAX_JSON_DEPTH} levels.")
        return data


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; DRF's own parser refuses them too (strict mode).
    raise ValueError(f"{name} is not valid JSON")
