"""Validators shared by every app: upload sizes (forms and serializers alike) and the model's own
field limits for services that write without ``full_clean()``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model


def validate_upload_size(upload: Any) -> None:
    """Refuse a file over PORTAL_UPLOAD_MAX_BYTES before anything reads it into memory."""
    limit = settings.PORTAL_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(f"File too large ({upload.size:,} bytes; the limit is {limit:,} bytes).")


def check_fields(model: type[Model], **values: Any) -> None:
    """Run ``model``'s own validators of each named field (max_length, ranges) on the value given.

    For services that write with ``update_or_create``/``get_or_create``/``update()``, which skip
    ``full_clean()``: the limits stay declared once, on the model, and hold for every entry point
    (form, REST, catalog import, command). Raises one ValidationError naming every field at fault.
    """
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        field = model._meta.get_field(name)
        try:
            field.run_validators(value)  # type: ignore[union-attr]  # a concrete field, not a relation
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
