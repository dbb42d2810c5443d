"""How the REST API documents itself (drf-spectacular).

``PortalAutoSchema`` (``DEFAULT_SCHEMA_CLASS``) adds to every operation what no view declares:

* its tag, the app that serves it (not its first URL segment, "v1" for every one of them); the
  groups' order and descriptions are SPECTACULAR_SETTINGS["TAGS"];
* every error status it can answer, each a shared response component (``#/components/responses/…``)
  with the one error body of ``portal.api_errors`` (``#/components/schemas/Error``). Which ones
  follows from the operation itself, so a new view is documented without a decorator;
* the query parameters of a view's ``query_serializer`` (validated by ``portal.api_query``).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers

from portal.serializers import ErrorSerializer

# status → (component name, description). Descriptions say when the status is answered.
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Malformed input: a body or query parameter that fails validation."),
    401: ("Unauthenticated", "No credentials, an invalid, expired or revoked token, or an expired session."),
    403: (
        "Forbidden",
        "The caller may see the object but lacks the capability, a privileged account has not "
        "proved its second factor, or the request came over plain HTTP where HTTPS is required.",
    ),
    404: ("NotFound", "No such object, or one outside the caller's sight (the same answer)."),
    409: (
        "Conflict",
        "Well-formed, but the record's state refuses it now: a move the workflow does not allow from "
        "its status or whose conditions are not met, a record changed since the revision given.",
    ),
    413: ("TooLarge", "The request body is larger than the portal accepts."),
    415: ("UnsupportedMediaType", "The body's Content-Type is not one this operation reads."),
    429: ("Throttled", "Too many requests; the Retry-After header says when to try again."),
}


NO_NUL = "^[^\\u0000]*$"


class PortalAutoSchema(AutoSchema):
    def get_tags(self) -> list[str]:
        # "inventory.api" → "inventory". extend_schema(tags=...) on a view still overrides this.
        return [type(self.view).__module__.split(".", 1)[0]]

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        query_serializer = getattr(self.view, "query_serializer", None)
        if query_serializer is not None and self.method == "GET":
            parameters.append(query_serializer)  # expanded into one query parameter per field
        return parameters

    def _map_serializer_field(self, field: Any, direction: str, bypass_extensions: bool = False) -> Any:
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        # A nested list (``many=True``) keeps its min_length/max_length on the ListSerializer,
        # which drf-spectacular does not read: a generated client would send lists we refuse.
        if getattr(field, "allow_blank", False) and "format" in schema:
            # "" is allowed but is no email (or URL): say "this format, or empty".
            schema = {**schema, "anyOf": [{"format": schema.pop("format")}, {"maxLength": 0}]}
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "number":
            schema["multipleOf"] = float(f"1e-{field.decimal_places}")  # more places are refused
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            min_length, max_length = getattr(field, "min_length", None), getattr(field, "max_length", None)
            if min_length is not None:
                schema["minItems"] = min_length
            if max_length is not None:
                schema["maxItems"] = max_length
        return schema

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        super()._insert_field_validators(field, schema)
        if (
            isinstance(field, serializers.CharField)
            and schema.get("type") == "string"
            and not {"pattern", "enum", "format", "anyOf", "oneOf"} & set(schema)
        ):
            schema["pattern"] = NO_NUL  # DRF refuses a NUL in any text field: the schema says so

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)  # type: ignore[arg-type]
        if direction != "response":
            return responses
        for code in self._error_statuses():
            responses.setdefault(str(code), self._error_response(code))
        return responses

    def _error_statuses(self) -> list[int]:
        # Every operation needs authentication, a capability, and is throttled.
        codes = {401, 403, 429}
        has_body = self.method in ("POST", "PUT", "PATCH") and bool(self._get_request_body())
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if has_query or self.method not in ("GET", "HEAD", "OPTIONS"):
            codes.add(400)
        if self.method not in ("GET", "HEAD", "OPTIONS"):
            # A well-formed write the record's state refuses ("a draft has nothing to confirm",
            # a move the workflow does not allow now, a record changed since it was read).
            codes.add(409)
        if "{" in self.path or self._is_paginated():
            codes.add(404)  # an object out of sight, or a page past the last one
        if has_body:
            codes.update({413, 415})
        return sorted(codes)

    def _is_paginated(self) -> bool:
        return self._is_list_view() and getattr(self.view, "pagination_class", None) is not None

    def _error_response(self, code: int) -> dict[str, Any]:
        name, description = ERROR_RESPONSES[code]
        body = self.resolve_serializer(ErrorSerializer, "response")
        component = ResolvedComponent(
            name=name,
            type=ResolvedComponent.RESPONSE,
            object=name,
            schema={"description": description, "content": {"application/json": {"schema": body.ref}}},
        )
        self.registry.register_on_missing(component)
        return component.ref
