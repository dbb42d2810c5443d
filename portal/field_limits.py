"""A model field's limits (length, range, digits), read from the model for the forms and serializers
that repeat them. The model enforces a limit (``full_clean()``, or ``portal.validators.check_fields``
in a service that writes without it); a form says it again so the browser stops typing there, a
serializer so the OpenAPI schema tells clients. Reading it from the model keeps one number per rule.

Imports no app: every app's forms and serializers use it.
"""

from __future__ import annotations

from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db.models import DecimalField, Field, Model


def _field(model: type[Model], name: str) -> Field:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):  # a reverse relation has no limits to read
        raise TypeError(f"{model.__name__}.{name} is not a concrete field.")
    return field


def max_length_of(model: type[Model], name: str) -> int:
    """A text field's limit: its ``max_length``, or for a TextField its MaxLengthValidator's."""
    field = _field(model, name)
    if field.max_length is not None:
        return field.max_length
    for validator in field.validators:
        if isinstance(validator, MaxLengthValidator) and isinstance(validator.limit_value, int):
            return validator.limit_value
    raise ValueError(f"{model.__name__}.{name} declares no maximum length.")


def value_range_of(model: type[Model], name: str) -> tuple[int | None, int | None]:
    """(min, max) of a number field as its MinValue/MaxValue validators bound it; None where unbounded.

    The tightest bound wins: that is what ``full_clean()`` enforces. Use it on fields whose model
    declares the bounds: Django gives an integer field without them the database's range instead.
    """
    field = _field(model, name)
    lows = [v.limit_value for v in field.validators if isinstance(v, MinValueValidator)]
    highs = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    for limit in (*lows, *highs):
        if not isinstance(limit, int):
            raise TypeError(f"{model.__name__}.{name}: a bound of {limit!r} is not a whole number.")
    return (max(lows) if lows else None), (min(highs) if highs else None)


def digits_of(model: type[Model], name: str) -> tuple[int, int]:
    """(max_digits, decimal_places) of a DecimalField."""
    field = _field(model, name)
    if not isinstance(field, DecimalField) or field.max_digits is None or field.decimal_places is None:
        raise TypeError(f"{model.__name__}.{name} is not a DecimalField with digits.")
    return field.max_digits, field.decimal_places
