"""Validators shared by every app's upload fields (forms and serializers alike)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError


def validate_upload_size(upload: Any) -> None:
    """Refuse a file over PORTAL_UPLOAD_MAX_BYTES before anything reads it into memory."""
    limit = settings.PORTAL_UPLOAD_MAX_BYTES
    if upload.size > limit:
        raise ValidationError(f"File too large ({upload.size:,} bytes; the limit is {limit:,} bytes).")
